// Building the page: plain DOM, no framework, nothing from elsewhere. Every text that comes from a
// person or a peer (messages, names, errors) is set with textContent, never parsed as HTML.

export const $ = (id) => document.getElementById(id);

/** Creates an element with attributes and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
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

/** Shows a line in the notice box (the paper's error box); one with a timeout goes by itself. */
export function notice(text, kind = 'error', timeout = 0) {
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

/** Says what is wrong in a dialog's error line, or hides the line for an empty text. */
export function formError(id, text) {
  const box = $(id);
  box.textContent = text || '';
  box.hidden = !text;
}

// How times read: the time of day in a conversation, a day above its first message, the full date in titles.
export const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
export const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
