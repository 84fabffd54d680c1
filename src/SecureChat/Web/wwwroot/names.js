// Who is who. A peer picks its own display name, and can pick a contact's name or even a contact's
// ID. So a name is shown as a name only when the user chose it; otherwise the page shows the peer's
// claim as a claim, with the fingerprint beside it, and everything the page sends names contacts by
// full ID.

/** False when the contact's name is only a placeholder (the user never named them). */
export function isNamed(c) {
  return c.named !== false;
}

/** What a peer says it is called, as its claim: text, never a name. */
export function claim(displayName, id) {
  return displayName ? `calls themself “${displayName}”` : `no name given (ID ${id.slice(0, 8)}…)`;
}

/** What a contact is called in lists and titles. */
export function shownName(c) {
  return isNamed(c) ? c.name : claim(c.displayName, c.id);
}

/** How a sentence speaks of a contact: its name, or its claim and fingerprint. */
export function whoIs(c) {
  return isNamed(c) ? c.name : `the contact who ${claim(c.displayName, c.id)} (fingerprint ${c.fingerprint})`;
}

/** The letter on a named contact's avatar. */
export function initials(name) {
  const letters = Array.from(name.trim());
  return (letters[0] || '?').toUpperCase();
}

/** Names that read alike: the same letters after Unicode compatibility folding, case and spacing. */
function alike(text) {
  return text.normalize('NFKC').toLocaleLowerCase().replace(/\s+/g, ' ').trim();
}

/** The contacts whose fingerprint must show in the list: unnamed ones, and those whose name reads like another's. */
export function needingFingerprint(contacts) {
  const core = (c) => alike(isNamed(c) ? c.name : c.displayName || c.id);
  const counts = new Map();
  for (const c of contacts) counts.set(core(c), (counts.get(core(c)) || 0) + 1);
  return new Set(contacts.filter((c) => !isNamed(c) || counts.get(core(c)) > 1).map((c) => c.id));
}
