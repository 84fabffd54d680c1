// What this page knows, in one place: every module reads and changes this one object.

export const state = {
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
