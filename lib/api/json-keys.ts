// JSON.parse keeps the last of two equal keys, so a body that names a field twice would be read as if it
// said only the last: such a body is refused instead (RFC 8259 leaves duplicate names to the reader).

interface Frame {
  /** An object's keys so far; undefined for an array. */
  keys?: Set<string>;
  /** The key or index of the value being read. */
  at: string;
}

/** Where the first repeated key of valid JSON `text` is, as a path of keys and indexes; undefined if none is. */
export function duplicateKey(text: string): string[] | undefined {
  const frames: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = frames.at(-1);
      if (expectKey && top?.keys) {
        // Compared as decoded, so "vcpus" and "vc\u0070us" are the same key.
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return [...frames.slice(0, -1).map((f) => f.at), key];
        top.keys.add(key);
        top.at = key;
        expectKey = false;
      }
      i = end;
    } else if (ch === '{') {
      frames.push({ keys: new Set(), at: '' });
      expectKey = true;
    } else if (ch === '[') {
      frames.push({ at: '0' });
      expectKey = false;
    } else if (ch === '}' || ch === ']') {
      frames.pop();
      expectKey = false;
    } else if (ch === ',') {
      const top = frames.at(-1);
      if (top?.keys) expectKey = true;
      else if (top) top.at = String(Number(top.at) + 1);
    }
  }
  return undefined;
}
