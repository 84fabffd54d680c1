// SecureChat's web UI. Plain DOM, no framework, nothing from elsewhere. Every text that comes from a
// person or a peer (messages, names, errors) is set with textContent, never parsed as HTML.
'use strict';

const PAGE = 50;
const $ = (id) => document.getElementById(id);

/** Creates an element with attributes and children (strings become text nodes). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

// ---------------------------------------------------------------- notices (the paper's error box)

function notice(text, kind = 'error', timeout = 0) {
  const box = el('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('p', { class: 'notice-text' }, String(text)),
    el('button', { class: 'notice-close', type: 'button', 'aria-label': 'Dismiss' }, '×'));
  box.querySelector('.notice-close').addEventListener('click', () => box.remove());
  const list = $('notices');
  list.append(box);
  while (list.children.length > 5) list.firstElementChild.remove();
  if (timeout > 0) setTimeout(() => box.remove(), timeout);
  return box;
}

window.addEventListener('error', (event) => notice(`Something went wrong in this page: ${event.message}`));
window.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  notice(event.reason instanceof Error ? event.reason.message : String(event.reason));
});

// ---------------------------------------------------------------- the node's API

class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('The node did not answer: is it still running?');
  }
  if (response.status === 401) {
    // The session ended (the node restarted): the explainer says how to get the new link.
    location.reload();
    throw new ApiError('This window is no longer signed in to the node.');
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(data?.error || `The node answered HTTP ${response.status}.`, response.status);
  return data;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- state

const state = {
  status: null,
  contacts: new Map(),      // account ID -> contact view
  requests: new Map(),      // account ID -> request view (a stranger who connected, not a contact)
  answering: new Set(),     // requests this page is accepting, declining or blocking now
  open: null,               // the account ID of the open conversation
  messages: new Map(),      // message ID -> <li> of the open conversation
  hasOlder: false,
  hasNewer: false,
  loading: false,
  typingTimer: 0,
  typingSent: false,
  peerTypingTimer: 0,
  warned: new Set(),        // key warnings shown in this page
  unseenArrived: false,     // a received message was shown in the open conversation since the last read
  opening: null,            // messages learned of while the open conversation's first page loads
};

// ---------------------------------------------------------------- formatting

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const TICKS = { queued: '◷', sent: '✓', delivered: '✓✓', read: '✓✓' };

function dayOf(iso) {
  return dayFormat.format(new Date(iso));
}

function initials(name) {
  const letters = Array.from(name.trim());
  return (letters[0] || '?').toUpperCase();
}

// ---------------------------------------------------------------- who is who

// A peer picks its own display name, and can pick a contact's name or even a contact's ID. So a
// name is shown as a name only when the user chose it; otherwise the page shows the peer's claim as
// a claim, with the fingerprint beside it, and everything the page sends names contacts by full ID.

/** False when the contact's name is only a placeholder (the user never named them). */
function isNamed(c) {
  return c.named !== false;
}

/** What a peer says it is called, as its claim: text, never a name. */
function claim(displayName, id) {
  return displayName ? `calls themself “${displayName}”` : `no name given (ID ${id.slice(0, 8)}…)`;
}

/** What a contact is called in lists and titles. */
function shownName(c) {
  return isNamed(c) ? c.name : claim(c.displayName, c.id);
}

/** How a sentence speaks of a contact: its name, or its claim and fingerprint. */
function whoIs(c) {
  return isNamed(c) ? c.name : `the contact who ${claim(c.displayName, c.id)} (fingerprint ${c.fingerprint})`;
}

/** Names that read alike: the same letters after Unicode compatibility folding, case and spacing. */
function alike(text) {
  return text.normalize('NFKC').toLocaleLowerCase().replace(/\s+/g, ' ').trim();
}

/** The contacts whose fingerprint must show in the list: unnamed ones, and those whose name reads like another's. */
function needingFingerprint(contacts) {
  const core = (c) => alike(isNamed(c) ? c.name : c.displayName || c.id);
  const counts = new Map();
  for (const c of contacts) counts.set(core(c), (counts.get(core(c)) || 0) + 1);
  return new Set(contacts.filter((c) => !isNamed(c) || counts.get(core(c)) > 1).map((c) => c.id));
}

// ---------------------------------------------------------------- status bar and listen panel

async function refreshStatus() {
  try {
    state.status = await api('GET', '/api/status');
  } catch (error) {
    $('net-status').textContent = error.message;
    return;
  }
  renderStatus();
}

function renderStatus() {
  const s = state.status;
  if (!s) return;
  const parts = [];
  parts.push(s.listen ? `Listening on ${s.listen}` : 'Not listening');
  if (s.dht) parts.push(s.dht.readOnly ? `DHT: ${s.dht.nodes} nodes (read-only)` : `DHT: ${s.dht.nodes} nodes`);
  else parts.push('DHT off');
  parts.push(`${s.online.length} online`);
  if (s.outbox > 0) parts.push(`${s.outbox} waiting to be sent`);
  const bar = $('net-status');
  bar.replaceChildren(el('span', { class: `dot${s.listen ? ' on' : ''}`, 'aria-hidden': 'true' }), parts.join(' · '));
  $('listen-state').textContent = s.listen
    ? `Listening on ${s.listen}: friends can connect to you there.`
    : 'Not listening: friends cannot connect to you, but you can still connect to them.';
  $('listen-start').textContent = s.listen ? 'Restart' : 'Start';
  $('listen-stop').disabled = !s.listen;
  if (s.listen && document.activeElement !== $('listen-host') && document.activeElement !== $('listen-port')) {
    const at = s.listen.lastIndexOf(':');
    $('listen-host').value = s.listen.slice(0, at).replace(/^\[|\]$/g, '');
    $('listen-port').value = s.listen.slice(at + 1);
  }
}

function hostPort(host, port) {
  const h = host.trim();
  return `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port.trim()}`;
}

$('listen-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const port = Number($('listen-port').value.trim() || '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    notice(`'${$('listen-port').value}' is not a port: use a number from 1 to 65535 (0 picks a free one).`);
    return;
  }
  $('listen-start').disabled = true;
  try {
    const result = await api('POST', '/api/listen', { host: $('listen-host').value.trim() || '0.0.0.0', port });
    notice(`Listening on ${result.listen}.`, 'info', 4000);
  } catch (error) {
    notice(error.message);
  } finally {
    $('listen-start').disabled = false;
    refreshStatus();
  }
});

$('listen-stop').addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/listen');
    notice('Stopped listening. Connections already open stay open.', 'info', 4000);
  } catch (error) {
    notice(error.message);
  }
  refreshStatus();
});

$('connect-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const host = $('connect-host').value.trim();
  const port = $('connect-port').value.trim();
  if (!host || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    notice('Type your friend\'s IP address and port (1 to 65535), for example 192.168.1.20 and 7311.');
    return;
  }
  const button = $('connect-button');
  button.disabled = true;
  button.textContent = 'Connecting…';
  try {
    const contact = await api('POST', '/api/connect', { address: hostPort(host, port) });
    state.contacts.set(contact.id, contact);
    renderContacts();
    notice(`Connected to ${shownName(contact)} (fingerprint ${contact.fingerprint}).`, 'info', 5000);
    openConversation(contact.id);
  } catch (error) {
    notice(error.message);
  } finally {
    button.disabled = false;
    button.textContent = 'Connect';
  }
});

// ---------------------------------------------------------------- contacts

let contactsTimer = 0;
function refreshContactsSoon() {
  clearTimeout(contactsTimer);
  contactsTimer = setTimeout(refreshContacts, 120);
}

/** A list from the API, or null after a notice saying why it could not be had. */
async function fetchList(path) {
  try {
    return await api('GET', path);
  } catch (error) {
    notice(error.message);
    return null;
  }
}

async function refreshContacts() {
  const list = await fetchList('/api/contacts');
  if (!list) return;
  state.contacts = new Map(list.map((c) => [c.id, c]));
  renderContacts();
  if (state.open && !state.contacts.has(state.open)) closeConversation();
  if (state.open) renderConversationHead();
  for (const c of list) {
    if (c.keyWarning) showKeyWarning(c.keyWarning, c.id);
  }
}

function renderContacts() {
  // Contacts the user named first, by name; then the unnamed, by what they call themselves.
  const sorted = [...state.contacts.values()].sort((a, b) =>
    (isNamed(b) - isNamed(a)) || shownName(a).localeCompare(shownName(b)) || a.id.localeCompare(b.id));
  const fingerprinted = needingFingerprint(sorted);
  const items = sorted.map((c) => {
    const presence = el('span', { class: `presence${c.online ? ' online' : ''}` });
    const withFingerprint = fingerprinted.has(c.id);
    const label = [withFingerprint ? `fingerprint ${c.fingerprint}` : null, c.online ? 'online' : 'offline', c.unread ? `${c.unread} unread` : null, c.verified ? 'verified' : null].filter(Boolean).join(', ');
    const button = el('button', { class: 'contact', type: 'button', 'data-id': c.id, 'aria-current': c.id === state.open ? 'true' : 'false', 'aria-label': `${shownName(c)}: ${label}` },
      el('span', { class: 'avatar', 'aria-hidden': 'true' }, isNamed(c) ? initials(c.name) : '?', presence),
      el('span', { class: 'contact-main' },
        el('span', { class: `contact-name${isNamed(c) ? '' : ' claimed'}` }, shownName(c)),
        withFingerprint ? el('code', { class: 'contact-fingerprint' }, c.fingerprint) : null,
        el('span', { class: 'contact-sub' }, c.keyWarning ? 'key changed: refused' : c.online ? 'online' : 'offline')),
      c.unread > 0 ? el('span', { class: 'unread' }, String(c.unread)) : null);
    button.addEventListener('click', () => openConversation(c.id));
    return el('li', { class: 'contact-item', 'data-id': c.id }, button);
  });
  // A contact that had the keyboard focus keeps it through the redraw (presence and unread counts change under it).
  const focused = document.activeElement?.closest?.('#contact-list button.contact')?.dataset.id;
  $('contact-list').replaceChildren(...items);
  if (focused) $('contact-list').querySelector(`button.contact[data-id="${CSS.escape(focused)}"]`)?.focus();
  $('no-contacts').hidden = sorted.length > 0;
  const unread = sorted.reduce((sum, c) => sum + (c.unread || 0), 0);
  document.title = unread > 0 ? `(${unread}) SecureChat` : 'SecureChat';
}

// ---------------------------------------------------------------- requests: strangers who connected

async function refreshRequests() {
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

function renderRequests() {
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
function dropRequest(id, hadFocus = requestItem(id)?.contains(document.activeElement)) {
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

async function acceptRequest(id, name) {
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

$('blocked-button').addEventListener('click', async () => {
  if (await renderBlocked()) $('blocked-dialog').showModal();
});

// ---------------------------------------------------------------- the conversation

function messageElement(m) {
  const meta = el('div', { class: 'meta' },
    el('time', { datetime: m.sentAt, title: fullFormat.format(new Date(m.sentAt)) }, timeFormat.format(new Date(m.sentAt))));
  if (m.direction === 'out') meta.append(tickElement(m.state));
  const li = el('li', { class: `message ${m.direction}`, 'data-id': m.id, 'data-day': dayOf(m.sentAt) },
    el('div', { class: 'bubble' }, el('p', { class: 'text' }, m.text), meta));
  return li;
}

function tickElement(messageState) {
  return el('span', { class: 'tick', 'data-state': messageState, title: messageState },
    el('span', { 'aria-hidden': 'true' }, TICKS[messageState] || ''), el('span', { class: 'sr-only' }, messageState));
}

/** Puts day separators where the day changes; run after the list changed. */
function markDays() {
  const list = $('messages');
  list.querySelectorAll('li.day').forEach((d) => d.remove());
  let last = null;
  for (const li of [...list.querySelectorAll('li.message')]) {
    if (li.dataset.day !== last) {
      li.before(el('li', { class: 'day', 'aria-hidden': 'true' }, li.dataset.day));
      last = li.dataset.day;
    }
  }
}

function renderConversationHead() {
  const c = state.contacts.get(state.open);
  if (!c) return;
  $('conversation-title').textContent = shownName(c);
  $('conversation-title').classList.toggle('claimed', !isNamed(c));
  $('conversation-fingerprint').textContent = c.fingerprint;
  $('rename-button').textContent = isNamed(c) ? 'Rename' : 'Name';
  const presence = $('conversation-presence');
  presence.textContent = c.online ? 'online' : 'offline';
  presence.className = `presence-text${c.online ? ' online' : ''}`;
  $('verified-badge').hidden = !c.verified;
  $('verify-button').textContent = c.verified ? 'Safety number' : 'Verify';
  for (const button of $('contact-list').querySelectorAll('button.contact')) {
    button.setAttribute('aria-current', button.dataset.id === state.open ? 'true' : 'false');
  }
}

async function openConversation(id, aroundMessage = null) {
  const c = state.contacts.get(id);
  if (!c) return;
  if (state.open !== id) stopTyping();
  state.open = id;
  state.messages.clear();
  $('start').hidden = true;
  $('conversation').hidden = false;
  $('app').classList.add('show-conversation');
  $('typing-indicator').textContent = '';
  renderConversationHead();
  const list = $('messages');
  list.replaceChildren(el('li', { class: 'loading-older' }, 'Loading…'));
  const arrived = [];
  arrived.ticks = new Map();
  state.opening = arrived;
  let page;
  try {
    page = aroundMessage
      ? await api('GET', `/api/contacts/${enc(id)}/messages?around=${enc(aroundMessage)}&limit=${PAGE}`)
      : await api('GET', `/api/contacts/${enc(id)}/messages?limit=${PAGE}`);
  } catch (error) {
    list.replaceChildren();
    notice(error.message);
    return;
  } finally {
    if (state.opening === arrived) state.opening = null;
  }
  if (state.open !== id) return;
  // Messages sent or received while the page was on its way may be newer than it.
  const known = new Set(page.map((m) => m.id));
  if (!aroundMessage) page.push(...arrived.filter((m) => !known.has(m.id)));
  list.replaceChildren(...page.map((m) => {
    const li = messageElement(m);
    state.messages.set(m.id, li);
    return li;
  }));
  for (const [messageId, messageState] of arrived.ticks) updateTick(messageId, messageState);
  markDays();
  if (aroundMessage) {
    const index = page.findIndex((m) => m.id === aroundMessage);
    // The node sends up to half a page before the message and fills the page after it.
    state.hasOlder = index >= Math.floor(PAGE / 2);
    state.hasNewer = page.length >= PAGE;
    const target = state.messages.get(aroundMessage);
    if (target) {
      target.classList.add('highlight');
      highlightTerms(target.querySelector('.text'), lastSearchHits.get(aroundMessage));
      target.scrollIntoView({ block: 'center' });
    }
  } else {
    state.hasOlder = page.length === PAGE;
    state.hasNewer = false;
    list.scrollTop = list.scrollHeight;
  }
  // The address names the open conversation, so a reload or a bookmark comes back to it.
  history.replaceState(null, '', `#c=${enc(id)}`);
  if (performance.getEntriesByName('conversation-shown').length === 0) performance.mark('conversation-shown');
  if (!aroundMessage) $('message-input').focus({ preventScroll: true });
  markReadSoon();
}

function closeConversation() {
  state.open = null;
  history.replaceState(null, '', location.pathname);
  state.messages.clear();
  $('conversation').hidden = true;
  $('start').hidden = false;
  $('app').classList.remove('show-conversation');
  renderContacts();
}

$('menu-button').addEventListener('click', () => $('app').classList.remove('show-conversation'));

async function loadOlder() {
  if (state.loading || !state.hasOlder || !state.open) return;
  const list = $('messages');
  const first = list.querySelector('li.message');
  if (!first) return;
  state.loading = true;
  const id = state.open;
  try {
    const page = await api('GET', `/api/contacts/${enc(id)}/messages?limit=${PAGE}&before=${enc(first.dataset.id)}`);
    if (state.open !== id) return;
    const height = list.scrollHeight;
    const top = list.scrollTop;
    const items = page.filter((m) => !state.messages.has(m.id)).map((m) => {
      const li = messageElement(m);
      state.messages.set(m.id, li);
      return li;
    });
    first.parentElement.prepend(...items);
    markDays();
    list.scrollTop = top + (list.scrollHeight - height);
    state.hasOlder = page.length === PAGE;
  } catch (error) {
    notice(error.message);
  } finally {
    state.loading = false;
  }
}

async function loadNewer() {
  if (state.loading || !state.hasNewer || !state.open) return;
  const list = $('messages');
  const all = list.querySelectorAll('li.message');
  const last = all[all.length - 1];
  if (!last) return;
  state.loading = true;
  const id = state.open;
  try {
    const page = await api('GET', `/api/contacts/${enc(id)}/messages?limit=${PAGE}&after=${enc(last.dataset.id)}`);
    if (state.open !== id) return;
    for (const m of page) {
      if (state.messages.has(m.id)) continue;
      const li = messageElement(m);
      state.messages.set(m.id, li);
      list.append(li);
    }
    markDays();
    state.hasNewer = page.length === PAGE;
    markReadSoon();
  } catch (error) {
    notice(error.message);
  } finally {
    state.loading = false;
  }
}

$('messages').addEventListener('scroll', () => {
  const list = $('messages');
  if (list.scrollTop < 300) loadOlder();
  if (list.scrollHeight - list.scrollTop - list.clientHeight < 300) loadNewer();
});

function nearBottom() {
  const list = $('messages');
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

/** A message this page learned of (sent here, in another tab, or received): shown if its conversation is open at its newest end. */
function addMessage(m) {
  if (m.contactId !== state.open) return;
  if (state.opening) {
    state.opening.push(m);
    return;
  }
  if (state.hasNewer) return;
  const existing = state.messages.get(m.id);
  if (existing) {
    updateTick(m.id, m.state);
    return;
  }
  const follow = nearBottom() || m.direction === 'out';
  if (m.direction === 'in') state.unseenArrived = true;
  const li = messageElement(m);
  state.messages.set(m.id, li);
  const list = $('messages');
  list.querySelector('li.loading-older')?.remove();
  list.append(li);
  markDays();
  if (follow) list.scrollTop = list.scrollHeight;
}

const TICK_ORDER = ['queued', 'sent', 'delivered', 'read'];
function updateTick(id, messageState) {
  if (state.opening) state.opening.ticks.set(id, messageState);
  const li = state.messages.get(id);
  const tick = li?.querySelector('.tick');
  if (!tick) return;
  // States only move forward; a late event never takes a tick back.
  if (TICK_ORDER.indexOf(messageState) <= TICK_ORDER.indexOf(tick.dataset.state)) return;
  tick.replaceWith(tickElement(messageState));
}

let readTimer = 0;
function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const c = state.contacts.get(state.open);
    if (!c || document.visibilityState !== 'visible' || state.hasNewer) return;
    if (c.unread === 0 && !state.unseenArrived) return;
    state.unseenArrived = false;
    try {
      await api('POST', `/api/contacts/${enc(c.id)}/read`);
      c.unread = 0;
      renderContacts();
    } catch (error) {
      notice(error.message);
    }
  }, 150);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') markReadSoon();
});

// ---------------------------------------------------------------- composing

const input = $('message-input');

function autosize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
}

input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
});

input.addEventListener('input', () => {
  autosize();
  if (!state.open) return;
  if (!state.typingSent && input.value.trim()) {
    state.typingSent = true;
    api('POST', `/api/contacts/${enc(state.open)}/typing`, { active: true }).catch(() => {});
  }
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(stopTyping, 4000);
});

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingSent && state.open) {
    api('POST', `/api/contacts/${enc(state.open)}/typing`, { active: false }).catch(() => {});
  }
  state.typingSent = false;
}

$('composer').addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = input.value;
  if (!text.trim() || !state.open) return;
  const id = state.open;
  stopTyping();
  input.value = '';
  autosize();
  try {
    const message = await api('POST', `/api/contacts/${enc(id)}/messages`, { text });
    if (state.hasNewer) {
      await openConversation(id);
    } else {
      addMessage(message);
    }
  } catch (error) {
    // Nothing was queued: the text goes back where it was typed.
    if (!input.value) input.value = text;
    autosize();
    notice(error.message);
  }
});

// ---------------------------------------------------------------- search

const lastSearchHits = new Map();   // message ID -> hit ranges of the last search

/** Text with the given [start, length] ranges wrapped in <mark>, as DOM nodes. */
function markedText(text, hits, from = 0, to = text.length) {
  const nodes = [];
  let at = from;
  for (const [start, length] of hits || []) {
    if (start + length <= from || start >= to) continue;
    const s = Math.max(start, from);
    const e = Math.min(start + length, to);
    if (s > at) nodes.push(document.createTextNode(text.slice(at, s)));
    nodes.push(el('mark', {}, text.slice(s, e)));
    at = e;
  }
  if (at < to) nodes.push(document.createTextNode(text.slice(at, to)));
  return nodes;
}

function highlightTerms(node, hits) {
  if (!node || !hits) return;
  node.replaceChildren(...markedText(node.textContent, hits));
}

function snippet(text, hits) {
  const first = hits && hits.length ? hits[0][0] : 0;
  const from = Math.max(0, first - 60);
  const to = Math.min(text.length, first + 140);
  return [from > 0 ? '…' : '', ...markedText(text, hits, from, to), to < text.length ? '…' : ''];
}

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const query = $('search-input').value.trim();
  if (!query) {
    closeSearch();
    return;
  }
  let results;
  try {
    results = await api('GET', `/api/search?q=${enc(query)}&limit=100`);
  } catch (error) {
    notice(error.message);
    return;
  }
  lastSearchHits.clear();
  const items = results.map(({ message: m, hits }) => {
    lastSearchHits.set(m.id, hits);
    const contact = state.contacts.get(m.contactId);
    const name = contact ? shownName(contact) : m.contact;
    const who = m.direction === 'out' ? `You to ${name}` : name;
    const button = el('button', { class: 'search-hit', type: 'button', 'data-id': m.id },
      el('span', { class: 'hit-head' }, el('span', {}, who), el('time', { datetime: m.sentAt }, fullFormat.format(new Date(m.sentAt)))),
      el('span', { class: 'hit-text' }, ...snippet(m.text, hits)));
    button.addEventListener('click', () => openConversation(m.contactId, m.id));
    return el('li', {}, button);
  });
  $('search-list').replaceChildren(...items);
  $('search-summary').textContent = results.length === 0 ? `Nothing found for “${query}”` : `${results.length} message${results.length === 1 ? '' : 's'} found`;
  $('search-results').hidden = false;
  $('contacts-pane').hidden = true;
});

function closeSearch() {
  $('search-results').hidden = true;
  $('contacts-pane').hidden = false;
  $('search-list').replaceChildren();
}

$('search-close').addEventListener('click', () => {
  $('search-input').value = '';
  closeSearch();
});

$('search-input').addEventListener('keydown', (event) => {
  if (event.key === 'Escape') {
    $('search-input').value = '';
    closeSearch();
  }
});

// ---------------------------------------------------------------- dialogs

for (const button of document.querySelectorAll('[data-close]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
}

for (const button of document.querySelectorAll('[data-copy]')) {
  button.addEventListener('click', async () => {
    const text = $(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = 'Copy'; }, 1500);
    } catch {
      const range = document.createRange();
      range.selectNodeContents($(button.dataset.copy));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      notice('Copying is not allowed here: the text is selected, press Ctrl+C.', 'info', 5000);
    }
  });
}

function formError(id, text) {
  const box = $(id);
  box.textContent = text || '';
  box.hidden = !text;
}

// Adding a contact

function openAddDialog() {
  $('add-form').reset();
  formError('add-error', '');
  $('add-contact-dialog').showModal();
  $('add-id').focus();
}

$('add-contact-button').addEventListener('click', openAddDialog);
$('start-add').addEventListener('click', openAddDialog);

$('add-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = { id: $('add-id').value.trim() };
  if ($('add-name').value.trim()) body.name = $('add-name').value.trim();
  if ($('add-endpoint').value.trim()) body.endpoint = $('add-endpoint').value.trim();
  try {
    const contact = await api('POST', '/api/contacts', body);
    stopCamera();
    $('add-contact-dialog').close();
    state.contacts.set(contact.id, contact);
    renderContacts();
    notice(`${whoIs(contact)} added. ${contact.endpoints.length ? 'Connecting…' : 'Your node will look for them on the DHT and the local network.'}`, 'info', 5000);
    openConversation(contact.id);
  } catch (error) {
    if (error.status === 409) {
      // Already a contact: go to that conversation. Connected first and waiting as a request:
      // adding them by ID is choosing them, so the request is accepted (with the name typed).
      await Promise.all([refreshContacts(), refreshRequests()]);
      const id = body.id.replace(/^securechat:/i, '').split('?')[0].trim().toLowerCase();
      if (state.contacts.has(id)) {
        stopCamera();
        $('add-contact-dialog').close();
        notice(`${whoIs(state.contacts.get(id))} is already one of your contacts.`, 'info', 5000);
        openConversation(id);
        return;
      }
      if (state.requests.has(id)) {
        stopCamera();
        $('add-contact-dialog').close();
        await acceptRequest(id, body.name || '');
        return;
      }
    }
    formError('add-error', error.message);
  }
});

$('add-contact-dialog').addEventListener('close', stopCamera);

// QR codes: a camera frame or a chosen picture is drawn grey and read by the node (no library from elsewhere).

let camera = null;
let scanTimer = 0;

async function decodeCanvas(canvas) {
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const { width, height } = canvas;
  const rgba = context.getImageData(0, 0, width, height).data;
  const grey = new Uint8Array(width * height);
  for (let i = 0, j = 0; j < grey.length; i += 4, j++) {
    grey[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
  }
  const response = await fetch(`/api/qr/decode?width=${width}&height=${height}`, {
    method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/octet-stream' }, body: grey,
  });
  if (response.status === 422) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(data?.error || `The node answered HTTP ${response.status}.`);
  return data.text;
}

function drawScaled(source, width, height) {
  const scale = Math.min(1, 1024 / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(21, Math.round(width * scale));
  canvas.height = Math.max(21, Math.round(height * scale));
  canvas.getContext('2d', { willReadFrequently: true }).drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

function scanned(text) {
  $('add-id').value = text;
  formError('add-error', '');
  stopCamera();
  $('add-name').focus();
  notice('QR code read: check the ID, then press Add.', 'info', 4000);
}

$('scan-qr-button').addEventListener('click', async () => {
  if (!navigator.mediaDevices?.getUserMedia) {
    formError('add-error', 'This browser gives this page no camera. Choose a picture of the QR code instead.');
    return;
  }
  try {
    camera = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (error) {
    formError('add-error', `The camera could not be opened (${error.name}): allow it, or choose a picture of the QR code instead.`);
    return;
  }
  const video = $('qr-video');
  video.srcObject = camera;
  $('qr-scanner').hidden = false;
  await video.play().catch(() => {});
  const scan = async () => {
    if (!camera) return;
    if (video.videoWidth > 0) {
      try {
        const text = await decodeCanvas(drawScaled(video, video.videoWidth, video.videoHeight));
        if (text) {
          scanned(text);
          return;
        }
      } catch (error) {
        formError('add-error', error.message);
      }
    }
    scanTimer = setTimeout(scan, 350);
  };
  scan();
});

function stopCamera() {
  clearTimeout(scanTimer);
  if (camera) {
    for (const track of camera.getTracks()) track.stop();
    camera = null;
  }
  $('qr-video').srcObject = null;
  $('qr-scanner').hidden = true;
}

$('qr-stop').addEventListener('click', stopCamera);

$('qr-file').addEventListener('change', async () => {
  const file = $('qr-file').files[0];
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    const text = await decodeCanvas(drawScaled(bitmap, bitmap.width, bitmap.height));
    if (text) scanned(text);
    else formError('add-error', 'No QR code was found in that picture.');
  } catch (error) {
    formError('add-error', error instanceof ApiError ? error.message : 'That file is not a picture this browser can read.');
  } finally {
    $('qr-file').value = '';
  }
});

// My ID

async function renderProfile() {
  const s = state.status;
  if (!s) return;
  const withAddress = $('invite-with-address').checked;
  const oneTime = $('invite-one-time').checked;
  $('own-name').textContent = s.displayName || '(no name)';
  $('own-id').textContent = s.id;
  $('own-fingerprint').textContent = s.fingerprint;
  try {
    // The link and its code come in one answer, so both carry the same one-time token, which no URL keeps.
    const invite = await api('GET', `/api/invite?withAddress=${withAddress}&oneTime=${oneTime}&qr=true`);
    $('invite-link').textContent = invite.link;
    $('own-qr').src = invite.qr;
  } catch (error) {
    notice(error.message);
  }
  const facts = [
    ['Listening', s.listen || 'no'],
    ['Online contacts', `${s.online.length} of ${s.contacts}`],
    ['Waiting to be sent', String(s.outbox)],
    ['DHT', s.dht ? `${s.dht.nodes} nodes on UDP ${s.dht.port}${s.dht.readOnly ? ', read-only' : ''}${s.dht.discoverable ? ', reachable by ID' : ''}` : 'off'],
    ['Seen from outside as', s.dht?.observedAddress || 'unknown'],
    ['LAN beacons', s.lan ? 'on' : 'off'],
  ];
  $('node-facts').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

async function openProfile() {
  await refreshStatus();
  await renderProfile();
  $('profile-dialog').showModal();
}

$('profile-button').addEventListener('click', openProfile);
$('start-profile').addEventListener('click', openProfile);
$('invite-with-address').addEventListener('change', renderProfile);
$('invite-one-time').addEventListener('change', renderProfile);

// Verify, rename, remove

$('verify-button').addEventListener('click', async () => {
  const c = state.contacts.get(state.open);
  if (!c) return;
  let result;
  try {
    result = await api('GET', `/api/contacts/${enc(c.id)}/safety-number`);
  } catch (error) {
    notice(error.message);
    return;
  }
  $('verify-title').textContent = `Verify ${shownName(c)}`;
  $('safety-number').replaceChildren(...result.safetyNumber.split(' ').map((group) => el('span', {}, group)));
  $('verify-state').textContent = result.verified ? `You marked ${whoIs(c)} as verified.` : `${whoIs(c)} is not verified yet.`;
  $('mark-verified').hidden = result.verified;
  $('verify-dialog').showModal();
});

$('mark-verified').addEventListener('click', async () => {
  const id = state.open;
  try {
    const contact = await api('POST', `/api/contacts/${enc(id)}/verify`);
    state.contacts.set(contact.id, contact);
    renderContacts();
    renderConversationHead();
    $('verify-dialog').close();
    notice(`${whoIs(contact)} is verified.`, 'info', 4000);
  } catch (error) {
    notice(error.message);
  }
});

$('rename-button').addEventListener('click', () => {
  const c = state.contacts.get(state.open);
  if (!c) return;
  // A contact the user never named has only a placeholder: the field starts empty, not with the peer's claim.
  $('rename-input').value = isNamed(c) ? c.name : '';
  $('rename-title').textContent = isNamed(c) ? `Rename ${c.name}` : `Name the contact who ${claim(c.displayName, c.id)} (fingerprint ${c.fingerprint})`;
  formError('rename-error', '');
  $('rename-dialog').showModal();
  $('rename-input').select();
});

$('rename-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const contact = await api('PATCH', `/api/contacts/${enc(state.open)}`, { name: $('rename-input').value.trim() });
    state.contacts.set(contact.id, contact);
    renderContacts();
    renderConversationHead();
    $('rename-dialog').close();
  } catch (error) {
    formError('rename-error', error.message);
  }
});

$('remove-button').addEventListener('click', () => {
  const c = state.contacts.get(state.open);
  if (!c) return;
  $('remove-text').textContent = `Remove ${whoIs(c)}, and the ${c.messages} message${c.messages === 1 ? '' : 's'} of your conversation, from this node? Messages not yet delivered are dropped too.`;
  $('remove-dialog').showModal();
});

$('block-button').addEventListener('click', () => {
  const c = state.contacts.get(state.open);
  if (!c) return;
  $('block-title').textContent = `Block ${shownName(c)}`;
  $('block-text').textContent = `Block ${whoIs(c)}? They are removed from your contacts with your conversation, and your node refuses them from now on, before they can send anything. You can unblock them under Requests › Blocked; they then come back only as a request.`;
  $('block-dialog').showModal();
});

$('block-confirm').addEventListener('click', async () => {
  const id = state.open;
  const c = state.contacts.get(id);
  try {
    await api('POST', `/api/contacts/${enc(id)}/block`);
  } catch (error) {
    notice(error.message);
    return;
  }
  $('block-dialog').close();
  state.contacts.delete(id);
  closeConversation();
  notice(`Blocked ${c ? whoIs(c) : id}. Unblock under Requests › Blocked.`, 'info', 6000);
});

$('remove-confirm').addEventListener('click', async () => {
  const id = state.open;
  try {
    await api('DELETE', `/api/contacts/${enc(id)}`);
    $('remove-dialog').close();
    state.contacts.delete(id);
    closeConversation();
  } catch (error) {
    notice(error.message);
  }
});

// The key warning blocks the page until it is acknowledged.

const keyWarnings = [];
function showKeyWarning(text, contactId) {
  const key = `${contactId ?? ''}|${text}`;
  if (state.warned.has(key)) return;
  state.warned.add(key);
  keyWarnings.push({ text, contactId });
  nextKeyWarning();
}

function nextKeyWarning() {
  const dialog = $('key-warning-dialog');
  if (dialog.open || keyWarnings.length === 0) return;
  const { text, contactId } = keyWarnings[0];
  const c = contactId ? state.contacts.get(contactId) : null;
  $('key-warning-title').textContent = c ? `Warning: ${shownName(c)} presented a different key` : 'Warning: a peer presented a different key';
  $('key-warning-text').textContent = text;
  for (const open of document.querySelectorAll('dialog[open]')) open.close();
  dialog.showModal();
}

$('key-warning-dialog').addEventListener('cancel', (event) => event.preventDefault());
$('key-warning-ack').addEventListener('click', async () => {
  const { contactId } = keyWarnings.shift() ?? {};
  $('key-warning-dialog').close();
  if (contactId && state.contacts.has(contactId)) {
    try {
      await api('DELETE', `/api/contacts/${enc(contactId)}/key-warning`);
    } catch (error) {
      notice(error.message);
    }
  }
  nextKeyWarning();
});

// ---------------------------------------------------------------- keyboard

document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
    event.preventDefault();
    $('search-input').focus();
  }
});

// ---------------------------------------------------------------- live events

function showTyping(contactId, active) {
  if (contactId !== state.open) return;
  clearTimeout(state.peerTypingTimer);
  const c = state.contacts.get(contactId);
  $('typing-indicator').textContent = active && c ? (isNamed(c) ? `${c.name} is typing…` : 'Typing…') : '';
  if (active) state.peerTypingTimer = setTimeout(() => { $('typing-indicator').textContent = ''; }, 8000);
}

let events = null;
let eventsFailedAt = 0;
function connectEvents() {
  events = new EventSource('/api/events');
  const on = (name, handler) => events.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  on('message', (m) => {
    addMessage(m);
    if (m.direction === 'in') {
      showTyping(m.contactId, false);
      if (m.contactId === state.open) markReadSoon();
      refreshContactsSoon();
    }
  });
  on('state', (s) => {
    updateTick(s.id, s.state);
    if (s.state === 'seen') refreshContactsSoon();
  });
  on('presence', (p) => {
    const c = state.contacts.get(p.contactId);
    if (c) {
      c.online = p.online;
      renderContacts();
      if (p.contactId === state.open) {
        renderConversationHead();
        if (!p.online) showTyping(p.contactId, false);
      }
    }
    refreshStatus();
  });
  on('typing', (t) => showTyping(t.contactId, t.active));
  on('contact', (c) => {
    if (c.isNew) {
      // A contact this page added or connected to opens at once; one that arrived by itself is announced.
      setTimeout(() => {
        const contact = state.contacts.get(c.contactId);
        if (state.open !== c.contactId) notice(`New contact: ${contact ? whoIs(contact) : c.name}. Compare safety numbers to be sure who it is.`, 'info', 6000);
      }, 500);
    }
    refreshContactsSoon();
  });
  on('removed', () => refreshContactsSoon());
  on('request', (r) => {
    const known = state.requests.has(r.id);
    state.requests.set(r.id, r);
    renderRequests();
    if (!known) notice(`New request: a stranger who ${claim(r.displayName, r.id)} (fingerprint ${r.fingerprint}) connected. Accept, decline or block them under Requests.`, 'info', 8000);
  });
  on('requestRemoved', (r) => {
    // One this page answers itself is dropped when its answer arrives, where the focus goes on.
    if (state.requests.has(r.id) && !state.answering.has(r.id)) dropRequest(r.id);
  });
  on('listen', () => refreshStatus());
  on('problem', (p) => {
    if (p.keyChanged) {
      showKeyWarning(p.message, p.contactId);
      refreshContactsSoon();
    } else if (p.contactId) {
      const c = state.contacts.get(p.contactId);
      notice(`${c ? whoIs(c) : 'A contact'}: ${p.message}`);
    }
  });
  events.addEventListener('open', () => {
    if (eventsFailedAt) {
      // Back after a break: catch up on what happened meanwhile.
      eventsFailedAt = 0;
      refreshStatus();
      refreshContacts();
      refreshRequests();
      if (state.open && !state.hasNewer) openConversation(state.open);
    }
  });
  events.addEventListener('error', () => {
    if (!eventsFailedAt) eventsFailedAt = Date.now();
    $('net-status').textContent = 'The node does not answer: reconnecting…';
    if (events.readyState === EventSource.CLOSED) setTimeout(connectEvents, 2000);
  });
}

// ---------------------------------------------------------------- start

(async () => {
  if (/token=/.test(location.hash)) history.replaceState(null, '', location.pathname);
  const wanted = /^#c=([^&]+)$/.exec(location.hash);
  connectEvents();
  await Promise.all([refreshStatus(), refreshContacts(), refreshRequests()]);
  if (!$('listen-port').value) $('listen-port').value = '7311';
  if (wanted && state.contacts.has(decodeURIComponent(wanted[1]))) await openConversation(decodeURIComponent(wanted[1]));
  setInterval(refreshStatus, 15000);
})();
