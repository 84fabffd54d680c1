// The client of the node's local API: one way to call it, one error type for what it refuses.
import { notice } from './dom.js';

/** What the node answered instead of the result, with its HTTP status (0: it did not answer). */
export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

export const enc = encodeURIComponent;

/**
 * Calls the API with this window's session cookie and gives the answer's JSON (null for 204). A
 * body of bytes (a picture) goes as it is; any other body as JSON. A refusal throws an ApiError
 * with the node's sentence.
 */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body instanceof Uint8Array) {
    init.headers['Content-Type'] = 'application/octet-stream';
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('The node did not answer: is it still running?');
  }
  if (response.status === 401) {
    // The session ended (the node restarted): the explainer says how to get the new link.
    location.reload();
    throw new ApiError('This window is no longer signed in to the node.');
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(data?.error || `The node answered HTTP ${response.status}.`, response.status);
  return data;
}

/** A list from the API, or null after a notice saying why it could not be had. */
export async function fetchList(path) {
  try {
    return await api('GET', path);
  } catch (error) {
    notice(error.message);
    return null;
  }
}
