// Markdown for generated docs, written exactly as `biome format` writes it (padded tables, `-` lists), so that a
// freshly generated page passes `npx biome check` without a formatting pass.

/** A table with every column padded to its widest cell, as biome formats tables. */
export function table(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map((row) => row.map(cell));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => width(row[i] ?? ''))));
  const line = (row: string[]) =>
    `| ${row.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join(' | ')} |`;
  const [head, ...body] = cells;
  return [line(head!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join('\n');
}

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replaceAll('\n', ' ').replaceAll('|', '\\|');
}

// Characters, not UTF-16 units; generated text stays clear of wide (CJK, emoji) characters, which biome would
// count differently.
function width(text: string): number {
  return [...text].length;
}

/** Plain text (help strings written for a terminal) made safe for Markdown: `<x>` is not a tag, `*` no emphasis. */
export function text(plain: string): string {
  return plain.replace(/[\\<*]/g, (c) => `\\${c}`);
}

/** Inline code; the text must not contain a backtick. */
export function code(text: string): string {
  if (text.includes('`')) throw new Error(`inline code cannot hold a backtick: ${text}`);
  return `\`${text}\``;
}

/** A fenced code block. */
export function fence(lang: string, text: string): string {
  return `\`\`\`${lang}\n${text}\n\`\`\``;
}

/** Blocks separated by one blank line. */
export function blocks(...parts: (string | undefined | false)[]): string {
  return parts.filter((p): p is string => typeof p === 'string' && p !== '').join('\n\n');
}
