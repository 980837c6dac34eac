/// <reference lib="dom" />
/** DOM helpers shared by the dashboard's modules: element lookup and creation (HTML and SVG). */

export const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** Creates an element; `aria*`, `data*` and `for` props become attributes (camelCase → kebab-case). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & Record<string, unknown> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith('aria') || k.startsWith('data') || k === 'for')
      node.setAttribute(
        k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
        String(v),
      );
    else (node as unknown as Record<string, unknown>)[k] = v;
  }
  node.append(...children);
  return node;
}

const svgNs = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with its attributes as given (no renaming: SVG attributes are already spelled out). */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/**
 * Re-renders `box` with `render` unless the user is typing in it (a field of it has the focus); the focused
 * button, found again by id, keeps the focus. Returns false when it left the box alone.
 */
export function rerender(box: HTMLElement, render: () => void): boolean {
  const active = document.activeElement;
  const inside = active !== null && box.contains(active);
  if (inside && (active.tagName === 'INPUT' || active.tagName === 'SELECT' || active.tagName === 'TEXTAREA'))
    return false;
  const focused = inside ? active.id : '';
  render();
  if (focused !== '') document.getElementById(focused)?.focus();
  return true;
}
