// Search across all conversations, and the marks on the words found.
import { api, enc } from './api.js';
import { openConversation } from './conversation.js';
import { $, el, fullFormat, notice } from './dom.js';
import { shownName } from './names.js';
import { state } from './state.js';

export const lastSearchHits = new Map();   // message ID -> hit ranges of the last search

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

export function highlightTerms(node, hits) {
  if (!node || !hits) return;
  node.replaceChildren(...markedText(node.textContent, hits));
}

function snippet(text, hits) {
  const first = hits && hits.length ? hits[0][0] : 0;
  const from = Math.max(0, first - 60);
  const to = Math.min(text.length, first + 140);
  return [from > 0 ? '…' : '', ...markedText(text, hits, from, to), to < text.length ? '…' : ''];
}

function closeSearch() {
  $('search-results').hidden = true;
  $('contacts-pane').hidden = false;
  $('search-list').replaceChildren();
}

export function wireSearch() {
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

  // Ctrl+K (Cmd+K on a Mac) goes to the search field from anywhere in the page.
  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
      event.preventDefault();
      $('search-input').focus();
    }
  });
}
