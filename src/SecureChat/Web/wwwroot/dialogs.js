// The dialogs: adding a contact, my ID, verifying, renaming, removing and blocking a contact, and
// the key warning that blocks the page until it is acknowledged.
import { api, enc } from './api.js';
import { refreshContacts, renderContacts } from './contacts.js';
import { closeConversation, openConversation, renderConversationHead } from './conversation.js';
import { $, el, formError, notice } from './dom.js';
import { claim, isNamed, shownName, whoIs } from './names.js';
import { stopCamera, wireQr } from './qr.js';
import { acceptRequest, refreshRequests } from './requests.js';
import { refreshStatus } from './status.js';
import { state } from './state.js';

// ---------------------------------------------------------------- adding a contact

function openAddDialog() {
  $('add-form').reset();
  formError('add-error', '');
  $('add-contact-dialog').showModal();
  $('add-id').focus();
}

function closeAddDialog() {
  stopCamera();
  $('add-contact-dialog').close();
}

async function addContact(event) {
  event.preventDefault();
  const body = { id: $('add-id').value.trim() };
  if ($('add-name').value.trim()) body.name = $('add-name').value.trim();
  if ($('add-endpoint').value.trim()) body.endpoint = $('add-endpoint').value.trim();
  try {
    const contact = await api('POST', '/api/contacts', body);
    closeAddDialog();
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
        closeAddDialog();
        notice(`${whoIs(state.contacts.get(id))} is already one of your contacts.`, 'info', 5000);
        openConversation(id);
        return;
      }
      if (state.requests.has(id)) {
        closeAddDialog();
        await acceptRequest(id, body.name || '');
        return;
      }
    }
    formError('add-error', error.message);
  }
}

// ---------------------------------------------------------------- my ID

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

/** Copies the text of the element a Copy button names, or selects it where the clipboard is closed to the page. */
async function copy(button) {
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
}

// ---------------------------------------------------------------- the open contact: verify, rename, remove, block

async function openVerify() {
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
}

async function markVerified() {
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
}

function openRename() {
  const c = state.contacts.get(state.open);
  if (!c) return;
  // A contact the user never named has only a placeholder: the field starts empty, not with the peer's claim.
  $('rename-input').value = isNamed(c) ? c.name : '';
  $('rename-title').textContent = isNamed(c) ? `Rename ${c.name}` : `Name the contact who ${claim(c.displayName, c.id)} (fingerprint ${c.fingerprint})`;
  formError('rename-error', '');
  $('rename-dialog').showModal();
  $('rename-input').select();
}

async function rename(event) {
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
}

function openRemove() {
  const c = state.contacts.get(state.open);
  if (!c) return;
  $('remove-text').textContent = `Remove ${whoIs(c)}, and the ${c.messages} message${c.messages === 1 ? '' : 's'} of your conversation, from this node? Messages not yet delivered are dropped too.`;
  $('remove-dialog').showModal();
}

async function remove() {
  const id = state.open;
  try {
    await api('DELETE', `/api/contacts/${enc(id)}`);
    $('remove-dialog').close();
    state.contacts.delete(id);
    closeConversation();
  } catch (error) {
    notice(error.message);
  }
}

function openBlock() {
  const c = state.contacts.get(state.open);
  if (!c) return;
  $('block-title').textContent = `Block ${shownName(c)}`;
  $('block-text').textContent = `Block ${whoIs(c)}? They are removed from your contacts with your conversation, and your node refuses them from now on, before they can send anything. You can unblock them under Requests › Blocked; they then come back only as a request.`;
  $('block-dialog').showModal();
}

async function block() {
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
}

// ---------------------------------------------------------------- the key warning blocks the page until it is acknowledged

const keyWarnings = [];

export function showKeyWarning(text, contactId) {
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

async function acknowledgeKeyWarning() {
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
}

export function wireDialogs() {
  for (const button of document.querySelectorAll('[data-close]')) {
    button.addEventListener('click', () => button.closest('dialog').close());
  }
  for (const button of document.querySelectorAll('[data-copy]')) {
    button.addEventListener('click', () => copy(button));
  }

  $('add-contact-button').addEventListener('click', openAddDialog);
  $('start-add').addEventListener('click', openAddDialog);
  $('add-form').addEventListener('submit', addContact);
  $('add-contact-dialog').addEventListener('close', stopCamera);
  wireQr();

  $('profile-button').addEventListener('click', openProfile);
  $('start-profile').addEventListener('click', openProfile);
  $('invite-with-address').addEventListener('change', renderProfile);
  $('invite-one-time').addEventListener('change', renderProfile);

  $('verify-button').addEventListener('click', openVerify);
  $('mark-verified').addEventListener('click', markVerified);
  $('rename-button').addEventListener('click', openRename);
  $('rename-form').addEventListener('submit', rename);
  $('remove-button').addEventListener('click', openRemove);
  $('remove-confirm').addEventListener('click', remove);
  $('block-button').addEventListener('click', openBlock);
  $('block-confirm').addEventListener('click', block);

  $('key-warning-dialog').addEventListener('cancel', (event) => event.preventDefault());
  $('key-warning-ack').addEventListener('click', acknowledgeKeyWarning);
}
