// Requests: strangers who connected and wait until the user accepts, declines or blocks them; and
// the list of blocked accounts.
import { api, enc, fetchList } from './api.js';
import { renderContacts } from './contacts.js';
import { openConversation } from './conversation.js';
import { $, el, fullFormat, notice, timeFormat } from './dom.js';
import { claim, isNamed } from './names.js';
import { state } from './state.js';

export async function refreshRequests() {
  const list = await fetchList('/api/requests');
  if (!list) return;
  state.requests = new Map(list.map((r) => [r.id, r]));
  renderRequests();
}

function heldSummary(r) {
  const held = Number.isInteger(r.held) ? r.held : r.messages.length;
  if (held === 0) return 'No message yet.';
  if (held > r.messages.length) return `${held} messages held; ${r.messages.length} shown:`;
  return held === 1 ? '1 message held:' : `${held} messages held:`;
}

function requestElement(r) {
  const titleId = `request-${r.id}`;
  const seen = r.firstSeen === r.lastSeen
    ? fullFormat.format(new Date(r.lastSeen))
    : `${fullFormat.format(new Date(r.firstSeen))} to ${fullFormat.format(new Date(r.lastSeen))}`;
  const messages = r.messages.map((m) => el('li', {},
    el('time', { datetime: m.sentAt, title: fullFormat.format(new Date(m.sentAt)) }, timeFormat.format(new Date(m.sentAt))),
    el('p', { class: 'text' }, m.text)));
  const form = el('form', { class: 'request-actions' },
    el('label', {}, 'Name (optional)', el('input', { name: 'name', 'data-role': 'name', maxlength: 64, autocomplete: 'off', spellcheck: 'false' })),
    el('div', { class: 'request-buttons' },
      el('button', { class: 'button small primary', type: 'submit', 'data-role': 'accept' }, 'Accept'),
      el('button', { class: 'button small', type: 'button', 'data-role': 'decline' }, 'Decline'),
      el('button', { class: 'button small danger', type: 'button', 'data-role': 'block' }, 'Block')));
  if (state.answering.has(r.id)) for (const button of form.querySelectorAll('button')) button.disabled = true;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    acceptRequest(r.id, form.elements.name.value.trim());
  });
  form.querySelector('[data-role="decline"]').addEventListener('click', () => declineRequest(r.id));
  form.querySelector('[data-role="block"]').addEventListener('click', () => blockRequest(r.id));
  return el('li', { class: 'request', 'data-id': r.id, 'aria-labelledby': titleId },
    el('p', { class: 'request-claim', id: titleId }, claim(r.displayName, r.id)),
    el('dl', { class: 'facts request-facts' },
      el('dt', {}, 'Fingerprint'), el('dd', {}, el('code', { class: 'request-fingerprint' }, r.fingerprint)),
      el('dt', {}, 'ID'), el('dd', {}, el('code', { class: 'request-id wrap' }, r.id)),
      r.endpoint ? el('dt', {}, 'From') : null, r.endpoint ? el('dd', {}, r.endpoint) : null,
      el('dt', {}, 'Seen'), el('dd', {}, seen)),
    el('p', { class: 'request-held' }, heldSummary(r)),
    messages.length ? el('ol', { class: 'request-messages', tabindex: '0', 'aria-label': `Messages held from ${r.id}` }, ...messages) : null,
    form);
}

export function renderRequests() {
  const sorted = [...state.requests.values()].sort((a, b) => String(b.lastSeen).localeCompare(String(a.lastSeen)) || a.id.localeCompare(b.id));
  // A redraw (a new held message) keeps what was typed in a name field, and the focus.
  const list = $('request-list');
  const typed = new Map([...list.querySelectorAll('li.request')].map((li) => [li.dataset.id, li.querySelector('[data-role="name"]').value]));
  const focusedItem = document.activeElement?.closest?.('#request-list li.request');
  const focused = focusedItem ? [focusedItem.dataset.id, document.activeElement.dataset.role] : null;
  const items = sorted.map((r) => {
    const li = requestElement(r);
    if (typed.get(r.id)) li.querySelector('[data-role="name"]').value = typed.get(r.id);
    return li;
  });
  list.replaceChildren(...items);
  if (focused) list.querySelector(`li.request[data-id="${CSS.escape(focused[0])}"] [data-role="${focused[1] || 'accept'}"]`)?.focus();
  $('no-requests').hidden = sorted.length > 0;
  $('requests-count').textContent = String(sorted.length);
  $('requests-count').hidden = sorted.length === 0;
}

function requestItem(id) {
  return $('request-list').querySelector(`li.request[data-id="${CSS.escape(id)}"]`);
}

/** Forgets a request in this page; a focus that was in it moves to the next request, or to Blocked. */
export function dropRequest(id, hadFocus = requestItem(id)?.contains(document.activeElement)) {
  const list = $('request-list');
  const item = requestItem(id);
  const next = item?.nextElementSibling?.dataset.id ?? item?.previousElementSibling?.dataset.id;
  state.requests.delete(id);
  renderRequests();
  if (hadFocus) {
    const target = next && list.querySelector(`li.request[data-id="${CSS.escape(next)}"] [data-role="accept"]`);
    (target || $('blocked-button')).focus();
  }
}

/** Disables a request's buttons while the node answers; returns whether the focus was in it (disabling takes it away). */
function requestButtons(id, disabled) {
  const item = requestItem(id);
  const hadFocus = Boolean(item?.contains(document.activeElement));
  if (disabled) state.answering.add(id);
  else state.answering.delete(id);
  for (const button of item?.querySelectorAll('button') ?? []) button.disabled = disabled;
  return hadFocus;
}

export async function acceptRequest(id, name) {
  const r = state.requests.get(id);
  const hadFocus = requestButtons(id, true);
  let contact;
  try {
    contact = await api('POST', `/api/requests/${enc(id)}/accept`, name ? { name } : {});
  } catch (error) {
    requestButtons(id, false);
    notice(error.message);
    return;
  }
  state.answering.delete(id);
  dropRequest(id, hadFocus);
  state.contacts.set(contact.id, contact);
  renderContacts();
  notice(`${r ? `The stranger who ${claim(r.displayName, id)}` : 'The request'} is now a contact${isNamed(contact) ? `, named ${contact.name}` : ''}. Compare safety numbers to be sure who it is.`, 'info', 6000);
  await openConversation(contact.id);
}

/** Posts a request's answer (decline or block); true once it is answered and dropped from the list. */
async function answerRequest(id, verb) {
  const hadFocus = requestButtons(id, true);
  try {
    await api('POST', `/api/requests/${enc(id)}/${verb}`);
  } catch (error) {
    requestButtons(id, false);
    notice(error.message);
    return false;
  }
  state.answering.delete(id);
  dropRequest(id, hadFocus);
  return true;
}

async function declineRequest(id) {
  if (!await answerRequest(id, 'decline')) return;
  notice('Request declined: its messages are gone. If they connect again, they come back as a new request.', 'info', 5000);
}

async function blockRequest(id) {
  const r = state.requests.get(id);
  if (!await answerRequest(id, 'block')) return;
  notice(`Blocked ${r ? `the stranger who ${claim(r.displayName, id)} (fingerprint ${r.fingerprint})` : id}: your node refuses them from now on. Unblock under Blocked.`, 'info', 6000);
}

// The blocked list, in a dialog.

async function renderBlocked() {
  const list = await fetchList('/api/blocked');
  if (!list) return false;
  const items = list.map((b) => {
    const button = el('button', { class: 'button small', type: 'button', 'data-id': b.id, 'aria-label': `Unblock ${b.fingerprint}` }, 'Unblock');
    button.addEventListener('click', () => unblock(b.id));
    return el('li', { class: 'blocked', 'data-id': b.id },
      el('dl', { class: 'facts' },
        el('dt', {}, 'Fingerprint'), el('dd', {}, el('code', { class: 'blocked-fingerprint' }, b.fingerprint)),
        el('dt', {}, 'ID'), el('dd', {}, el('code', { class: 'blocked-id wrap' }, b.id)),
        el('dt', {}, 'Blocked'), el('dd', {}, el('time', { datetime: b.blockedAt }, fullFormat.format(new Date(b.blockedAt))))),
      button);
  });
  $('blocked-list').replaceChildren(...items);
  $('no-blocked').hidden = items.length > 0;
  return true;
}

async function unblock(id) {
  const list = $('blocked-list');
  const item = list.querySelector(`li.blocked[data-id="${CSS.escape(id)}"]`);
  const next = item?.nextElementSibling?.dataset.id ?? item?.previousElementSibling?.dataset.id;
  try {
    await api('DELETE', `/api/blocked/${enc(id)}`);
  } catch (error) {
    notice(error.message);
    return;
  }
  await renderBlocked();
  const target = next && list.querySelector(`li.blocked[data-id="${CSS.escape(next)}"] button`);
  (target || $('blocked-dialog').querySelector('.dialog-buttons button')).focus();
  notice('Unblocked: if they connect again, they come back as a request.', 'info', 5000);
}

export function wireRequests() {
  $('blocked-button').addEventListener('click', async () => {
    if (await renderBlocked()) $('blocked-dialog').showModal();
  });
}
