// Live events from the node (server-sent events on /api/events): what arrives, changes state,
// comes online, types, connects or goes wrong shows without a reload; after a break the page
// catches up on what it missed.
import { refreshContacts, refreshContactsSoon, renderContacts } from './contacts.js';
import { addMessage, markReadSoon, openConversation, renderConversationHead, showTyping, updateTick } from './conversation.js';
import { showKeyWarning } from './dialogs.js';
import { $, notice } from './dom.js';
import { claim, whoIs } from './names.js';
import { dropRequest, refreshRequests, renderRequests } from './requests.js';
import { state } from './state.js';
import { refreshStatus } from './status.js';

let events = null;
let eventsFailedAt = 0;

export function connectEvents() {
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
      c.connection = p.online ? p.connection : null;
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
  // The node's reachability sentence changed (a contact or the DHT said how it sees the node, or the router mapped a port).
  on('reachability', () => refreshStatus());
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
