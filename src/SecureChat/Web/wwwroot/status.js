// The node's state in the top bar, and the Listen and Connect panels.
import { api } from './api.js';
import { renderContacts } from './contacts.js';
import { openConversation } from './conversation.js';
import { $, el, notice } from './dom.js';
import { shownName } from './names.js';
import { state } from './state.js';

export async function refreshStatus() {
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
  renderReachability(s.reachability);
  $('listen-start').textContent = s.listen ? 'Restart' : 'Start';
  $('listen-stop').disabled = !s.listen;
  if (s.listen && document.activeElement !== $('listen-host') && document.activeElement !== $('listen-port')) {
    const at = s.listen.lastIndexOf(':');
    $('listen-host').value = s.listen.slice(0, at).replace(/^\[|\]$/g, '');
    $('listen-port').value = s.listen.slice(at + 1);
  }
}

/** How contacts can reach this node, in the node's own sentence (its class names the style), in the profile. */
function renderReachability(reachability) {
  const line = $('own-reachability');
  line.textContent = reachability ? reachability.sentence : 'Not known: this node does not say how it is reached.';
  line.dataset.kind = reachability ? reachability.kind : 'unknown';
}

function hostPort(host, port) {
  const h = host.trim();
  return `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port.trim()}`;
}

export function wireStatus() {
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
}
