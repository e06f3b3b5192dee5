/**
 * The portal's one script: the Copy buttons. They are rendered `hidden`, so without script the
 * page shows only what works (the text, selectable); this shows them and copies the text of the
 * element a button names (`data-copy`). The Clipboard API needs a secure context (https or a
 * loopback host); elsewhere the text is selected and the older copy command tried, and the
 * button says to press Ctrl+C when even that is refused. Inline, allowed by its hash.
 */
import { scriptHash } from '../respond.js';

export const COPY_SCRIPT = `(() => {
  const say = (button, text) => {
    button.textContent = text;
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  };
  const select = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    button.addEventListener('click', () => {
      const fallback = () => {
        select(source);
        say(button, document.execCommand('copy') ? 'Copied' : 'Press Ctrl+C');
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent).then(() => say(button, 'Copied'), fallback);
      } else {
        fallback();
      }
    });
  }
})();`;

export const COPY_SCRIPT_HASH = scriptHash(COPY_SCRIPT);
