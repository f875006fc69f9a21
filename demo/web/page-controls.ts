/**
 * The demo page's controls: the chat form and the burst button. They act through the page's hook, as a
 * test does, and say in words what happened.
 */
import { MAX_CHAT_TEXT_BYTES } from '../agents/chat.js';
import { sentence } from './error-sentence.js';
import type { MeshlinkDemo } from './page-hook.js';
import { ui } from './page-elements.js';

/** Turns the controls on once the node runs; `peerCount` tells the chat form whom a message reached. */
export function enableControls(hook: MeshlinkDemo, peerCount: () => number): void {
  for (const control of [ui.chatInput, ui.chatSend, ui.burst]) control.disabled = false;
  ui.chatForm.addEventListener('submit', (event) => onChatSubmit(event, hook, peerCount));
  ui.burst.addEventListener('click', () => void onBurst(hook));
}

function onChatSubmit(event: SubmitEvent, hook: MeshlinkDemo, peerCount: () => number): void {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  if (text === '') {
    ui.chatFeedback.textContent = 'Type a message first.';
    return;
  }
  if (new TextEncoder().encode(text).length > MAX_CHAT_TEXT_BYTES) {
    ui.chatFeedback.textContent = `That message is too long: at most ${MAX_CHAT_TEXT_BYTES} bytes.`;
    return;
  }
  try {
    hook.sendChat(text);
    const peers = peerCount();
    ui.chatFeedback.textContent = peers === 0 ? 'Sent, but no peer is connected to receive it.' : `Sent to ${peers} peer${peers === 1 ? '' : 's'}.`;
    ui.chatInput.value = '';
  } catch (error) {
    ui.chatFeedback.textContent = `Could not send it: ${sentence(error)}.`;
  }
}

async function onBurst(hook: MeshlinkDemo): Promise<void> {
  ui.burst.disabled = true;
  ui.burstFeedback.textContent = 'Sending…';
  try {
    const { peers, sent } = await hook.burst();
    ui.burstFeedback.textContent =
      peers === 0 ? 'No peer to send to yet.' : `Sent ${sent} messages of 1 kB to ${peers} peer${peers === 1 ? '' : 's'}; watch the plots.`;
  } catch (error) {
    ui.burstFeedback.textContent = `The burst failed: ${sentence(error)}.`;
  } finally {
    ui.burst.disabled = hook.state !== 'running';
  }
}
