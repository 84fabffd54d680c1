// The contact list: who the user chose to talk with, their presence and unread counts.
import { fetchList } from './api.js';
import { closeConversation, openConversation, renderConversationHead } from './conversation.js';
import { showKeyWarning } from './dialogs.js';
import { $, el } from './dom.js';
import { initials, isNamed, needingFingerprint, shownName } from './names.js';
import { state } from './state.js';

let contactsTimer = 0;

/** Refreshes the list once a burst of events is over, not once an event. */
export function refreshContactsSoon() {
  clearTimeout(contactsTimer);
  contactsTimer = setTimeout(refreshContacts, 120);
}

export async function refreshContacts() {
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

/** How a connected contact is connected, in a few words for the list ("IPv4, you dialed"); the whole sentence is its title. */
function connectionShort(connection) {
  return `${connection.family}, ${connection.direction === 'outbound' ? 'you dialed' : 'they dialed'}`;
}

export function renderContacts() {
  // Contacts the user named first, by name; then the unnamed, by what they call themselves.
  const sorted = [...state.contacts.values()].sort((a, b) =>
    (isNamed(b) - isNamed(a)) || shownName(a).localeCompare(shownName(b)) || a.id.localeCompare(b.id));
  const fingerprinted = needingFingerprint(sorted);
  const items = sorted.map((c) => {
    const presence = el('span', { class: `presence${c.online ? ' online' : ''}` });
    const withFingerprint = fingerprinted.has(c.id);
    const presenceText = c.online && c.connection ? `online · ${connectionShort(c.connection)}` : c.online ? 'online' : 'offline';
    const label = [withFingerprint ? `fingerprint ${c.fingerprint}` : null, c.online ? 'online' : 'offline', c.online && c.connection ? c.connection.sentence : null, c.unread ? `${c.unread} unread` : null, c.verified ? 'verified' : null].filter(Boolean).join(', ');
    const button = el('button', { class: 'contact', type: 'button', 'data-id': c.id, 'aria-current': c.id === state.open ? 'true' : 'false', 'aria-label': `${shownName(c)}: ${label}` },
      el('span', { class: 'avatar', 'aria-hidden': 'true' }, isNamed(c) ? initials(c.name) : '?', presence),
      el('span', { class: 'contact-main' },
        el('span', { class: `contact-name${isNamed(c) ? '' : ' claimed'}` }, shownName(c)),
        withFingerprint ? el('code', { class: 'contact-fingerprint' }, c.fingerprint) : null,
        el('span', { class: 'contact-sub', title: c.online && c.connection ? c.connection.sentence : null }, c.keyWarning ? 'key changed: refused' : presenceText)),
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
