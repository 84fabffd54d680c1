// The open conversation: its messages page by page, their ticks, reading, typing and sending.
import { api, enc } from './api.js';
import { renderContacts } from './contacts.js';
import { $, dayFormat, el, fullFormat, notice, timeFormat } from './dom.js';
import { isNamed, shownName } from './names.js';
import { highlightTerms, lastSearchHits } from './search.js';
import { state } from './state.js';

const PAGE = 50;
const TICKS = { queued: '◷', sent: '✓', delivered: '✓✓', read: '✓✓' };
const TICK_ORDER = ['queued', 'sent', 'delivered', 'read'];

function dayOf(iso) {
  return dayFormat.format(new Date(iso));
}

function messageElement(m) {
  const meta = el('div', { class: 'meta' },
    el('time', { datetime: m.sentAt, title: fullFormat.format(new Date(m.sentAt)) }, timeFormat.format(new Date(m.sentAt))));
  if (m.direction === 'out') meta.append(tickElement(m.state));
  const li = el('li', { class: `message ${m.direction}`, 'data-id': m.id, 'data-day': dayOf(m.sentAt) },
    el('div', { class: 'bubble' }, el('p', { class: 'text' }, m.text), meta));
  return li;
}

/** A message's element, kept by its ID so that its tick can move on. */
function shownMessage(m) {
  const li = messageElement(m);
  state.messages.set(m.id, li);
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

export function renderConversationHead() {
  const c = state.contacts.get(state.open);
  if (!c) return;
  $('conversation-title').textContent = shownName(c);
  $('conversation-title').classList.toggle('claimed', !isNamed(c));
  $('conversation-fingerprint').textContent = c.fingerprint;
  $('rename-button').textContent = isNamed(c) ? 'Rename' : 'Name';
  const presence = $('conversation-presence');
  presence.textContent = c.online ? 'online' : 'offline';
  // Beside presence, how the contact is connected: who dialed, over which IP version, where to.
  $('conversation-connection').textContent = c.online && c.connection ? c.connection.sentence : '';
  presence.className = `presence-text${c.online ? ' online' : ''}`;
  $('verified-badge').hidden = !c.verified;
  $('verify-button').textContent = c.verified ? 'Safety number' : 'Verify';
  for (const button of $('contact-list').querySelectorAll('button.contact')) {
    button.setAttribute('aria-current', button.dataset.id === state.open ? 'true' : 'false');
  }
}

export async function openConversation(id, aroundMessage = null) {
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
  list.replaceChildren(...page.map(shownMessage));
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

export function closeConversation() {
  state.open = null;
  history.replaceState(null, '', location.pathname);
  state.messages.clear();
  $('conversation').hidden = true;
  $('start').hidden = false;
  $('app').classList.remove('show-conversation');
  renderContacts();
}

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
    first.parentElement.prepend(...page.filter((m) => !state.messages.has(m.id)).map(shownMessage));
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
    list.append(...page.filter((m) => !state.messages.has(m.id)).map(shownMessage));
    markDays();
    state.hasNewer = page.length === PAGE;
    markReadSoon();
  } catch (error) {
    notice(error.message);
  } finally {
    state.loading = false;
  }
}

function nearBottom() {
  const list = $('messages');
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

/** A message this page learned of (sent here, in another tab, or received): shown if its conversation is open at its newest end. */
export function addMessage(m) {
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
  const list = $('messages');
  list.querySelector('li.loading-older')?.remove();
  list.append(shownMessage(m));
  markDays();
  if (follow) list.scrollTop = list.scrollHeight;
}


export function updateTick(id, messageState) {
  if (state.opening) state.opening.ticks.set(id, messageState);
  const li = state.messages.get(id);
  const tick = li?.querySelector('.tick');
  if (!tick) return;
  // States only move forward; a late event never takes a tick back.
  if (TICK_ORDER.indexOf(messageState) <= TICK_ORDER.indexOf(tick.dataset.state)) return;
  tick.replaceWith(tickElement(messageState));
}

let readTimer = 0;

export function markReadSoon() {
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

const input = () => $('message-input');

function autosize() {
  const box = input();
  box.style.height = 'auto';
  box.style.height = `${Math.min(box.scrollHeight + 2, 160)}px`;
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingSent && state.open) {
    api('POST', `/api/contacts/${enc(state.open)}/typing`, { active: false }).catch(() => {});
  }
  state.typingSent = false;
}

/** Shows or clears "is typing…" for the open conversation; it clears by itself if no word follows. */
export function showTyping(contactId, active) {
  if (contactId !== state.open) return;
  clearTimeout(state.peerTypingTimer);
  const c = state.contacts.get(contactId);
  $('typing-indicator').textContent = active && c ? (isNamed(c) ? `${c.name} is typing…` : 'Typing…') : '';
  if (active) state.peerTypingTimer = setTimeout(() => { $('typing-indicator').textContent = ''; }, 8000);
}

export function wireConversation() {
  $('menu-button').addEventListener('click', () => $('app').classList.remove('show-conversation'));

  $('messages').addEventListener('scroll', () => {
    const list = $('messages');
    if (list.scrollTop < 300) loadOlder();
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 300) loadNewer();
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') markReadSoon();
  });

  input().addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });

  input().addEventListener('input', () => {
    autosize();
    if (!state.open) return;
    if (!state.typingSent && input().value.trim()) {
      state.typingSent = true;
      api('POST', `/api/contacts/${enc(state.open)}/typing`, { active: true }).catch(() => {});
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, 4000);
  });

  $('composer').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input().value;
    if (!text.trim() || !state.open) return;
    const id = state.open;
    stopTyping();
    input().value = '';
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
      if (!input().value) input().value = text;
      autosize();
      notice(error.message);
    }
  });
}
