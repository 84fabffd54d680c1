// The explainer's one job: trade the #token= of a link for a session cookie, then load the app.
// The token is good once: the address the browser's history keeps holds a dead one.
'use strict';
(() => {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]{1,256})/.exec(location.hash);
  if (!match) {
    return;
  }
  // The token leaves the address bar and this tab's back list before anything else happens
  // (the browser's history database has recorded the visit already: the node spends the token).
  history.replaceState(null, '', location.pathname);
  const progress = document.getElementById('login-progress');
  const error = document.getElementById('login-error');
  const fail = (text) => {
    progress.hidden = true;
    error.textContent = text;
    error.hidden = false;
  };
  progress.hidden = false;
  fetch('/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: match[1] }),
    credentials: 'same-origin',
  }).then(async (response) => {
    if (response.ok) {
      location.replace('/');
      return;
    }
    const body = await response.json().catch(() => ({}));
    fail(body.error || `The node refused this link (HTTP ${response.status}).`);
  }).catch(() => fail('The node did not answer: is it still running?'));
})();
