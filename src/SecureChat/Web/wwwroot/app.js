// SecureChat's web UI, the entry: it wires each part of the page to its elements, then loads what
// the node knows and listens for what changes. The parts are native modules, served by the node
// from its own files like this one; nothing is built, nothing comes from elsewhere.
import { refreshContacts } from './contacts.js';
import { openConversation, wireConversation } from './conversation.js';
import { wireDialogs } from './dialogs.js';
import { $, notice } from './dom.js';
import { connectEvents } from './events.js';
import { refreshRequests, wireRequests } from './requests.js';
import { wireSearch } from './search.js';
import { state } from './state.js';
import { refreshStatus, wireStatus } from './status.js';

window.addEventListener('error', (event) => notice(`Something went wrong in this page: ${event.message}`));
window.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  notice(event.reason instanceof Error ? event.reason.message : String(event.reason));
});

wireStatus();
wireRequests();
wireConversation();
wireSearch();
wireDialogs();

/** Loads what the node knows, opens the conversation the address names, and keeps the status fresh. */
async function start() {
  if (/token=/.test(location.hash)) history.replaceState(null, '', location.pathname);
  const wanted = /^#c=([^&]+)$/.exec(location.hash);
  connectEvents();
  await Promise.all([refreshStatus(), refreshContacts(), refreshRequests()]);
  if (!$('listen-port').value) $('listen-port').value = '7311';
  if (wanted && state.contacts.has(decodeURIComponent(wanted[1]))) await openConversation(decodeURIComponent(wanted[1]));
  setInterval(refreshStatus, 15000);
}

start();
