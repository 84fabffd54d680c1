// Reading a QR code in the Add contact dialog: a camera frame or a chosen picture is drawn grey and
// read by the node (POST /api/qr/decode), as the page takes no library from elsewhere.
import { api, ApiError } from './api.js';
import { $, formError, notice } from './dom.js';

let camera = null;
let scanTimer = 0;

/** The text of the QR code on a canvas, or null when the node finds none in it. */
async function decodeCanvas(canvas) {
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const { width, height } = canvas;
  const rgba = context.getImageData(0, 0, width, height).data;
  const grey = new Uint8Array(width * height);
  for (let i = 0, j = 0; j < grey.length; i += 4, j++) {
    grey[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
  }
  try {
    return (await api('POST', `/api/qr/decode?width=${width}&height=${height}`, grey)).text;
  } catch (error) {
    if (error.status === 422) return null;
    throw error;
  }
}

/** A canvas with the picture or frame drawn at most 1024 pixels a side (the node takes up to 2048). */
function drawScaled(source, width, height) {
  const scale = Math.min(1, 1024 / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(21, Math.round(width * scale));
  canvas.height = Math.max(21, Math.round(height * scale));
  canvas.getContext('2d', { willReadFrequently: true }).drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

function scanned(text) {
  $('add-id').value = text;
  formError('add-error', '');
  stopCamera();
  $('add-name').focus();
  notice('QR code read: check the ID, then press Add.', 'info', 4000);
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    formError('add-error', 'This browser gives this page no camera. Choose a picture of the QR code instead.');
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (error) {
    formError('add-error', `The camera could not be opened (${error.name}): allow it, or choose a picture of the QR code instead.`);
    return;
  }
  // The user may have closed the dialog while the browser asked for the camera; a second press
  // replaces the first camera rather than running beside it.
  stopCamera();
  if (!$('add-contact-dialog').open) {
    for (const track of stream.getTracks()) track.stop();
    return;
  }
  camera = stream;
  const video = $('qr-video');
  video.srcObject = stream;
  $('qr-scanner').hidden = false;
  await video.play().catch(() => {});
  // One frame at a time, each read after the node answered the last. A scan belongs to its stream:
  // once the camera stopped (a code read, Stop pressed, the dialog closed) or started anew, a frame
  // still on its way is not taken and no next frame is drawn.
  const scan = async () => {
    if (camera !== stream) return;
    if (video.videoWidth > 0) {
      try {
        const text = await decodeCanvas(drawScaled(video, video.videoWidth, video.videoHeight));
        if (camera !== stream) return;
        if (text) {
          scanned(text);
          return;
        }
      } catch (error) {
        if (camera !== stream) return;
        formError('add-error', error.message);
      }
    }
    scanTimer = setTimeout(scan, 350);
  };
  scan();
}

/** Stops the camera and its scanning, if they run. */
export function stopCamera() {
  clearTimeout(scanTimer);
  if (camera) {
    for (const track of camera.getTracks()) track.stop();
    camera = null;
  }
  $('qr-video').srcObject = null;
  $('qr-scanner').hidden = true;
}

async function readPicture() {
  const file = $('qr-file').files[0];
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    const text = await decodeCanvas(drawScaled(bitmap, bitmap.width, bitmap.height));
    if (text) scanned(text);
    else formError('add-error', 'No QR code was found in that picture.');
  } catch (error) {
    formError('add-error', error instanceof ApiError ? error.message : 'That file is not a picture this browser can read.');
  } finally {
    $('qr-file').value = '';
  }
}

export function wireQr() {
  $('scan-qr-button').addEventListener('click', startCamera);
  $('qr-stop').addEventListener('click', stopCamera);
  $('qr-file').addEventListener('change', readPicture);
}
