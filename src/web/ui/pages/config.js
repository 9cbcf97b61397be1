// /config: the configuration in effect, as the server prints it (secrets
// redacted).
import { h, replace, errorBox } from '../lib/dom.js';

export async function mount(root, ctx) {
  replace(root, h('h1', null, 'Configuration'));
  try {
    const yaml = (await ctx.api('/api/v1/status/config')).data.yaml;
    const pre = h('pre', { id: 'config-yaml', tabindex: 0 }, h('code', null, yaml));
    const copy = h('button', {
      type: 'button',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(yaml);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Copy failed (clipboard not allowed)';
        }
      },
    }, 'Copy to clipboard');
    root.append(h('div', { class: 'toolbar' }, copy), pre);
  } catch (e) {
    root.append(errorBox(e));
  }
}
