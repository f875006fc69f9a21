/**
 * The README's code, as a user copies it. Every ```ts / ```js block is preceded by a marker
 * `<!-- snippet: <name> <node|browser> -->` (an HTML comment: invisible on npm) naming the file the
 * tests write it to and the platform whose typings it is checked against.
 */
export interface Snippet {
  name: string;
  platform: 'node' | 'browser';
  code: string;
}

const FENCE = /^```(?:ts|js|typescript|javascript)\s*$/gm;
const MARKED = /<!-- snippet: ([a-z0-9-]+) (node|browser) -->\n```(?:ts|js|typescript|javascript)\n([\s\S]*?)^```/gm;

/** The marked snippets; throws if a code block has no marker or two share a name. */
export function readmeSnippets(readme: string): Snippet[] {
  const snippets = [...readme.matchAll(MARKED)].map((match) => ({ name: match[1]!, platform: match[2] as Snippet['platform'], code: match[3]! }));
  const fences = readme.match(FENCE)?.length ?? 0;
  if (fences !== snippets.length) throw new Error(`README has ${fences} ts/js code blocks but ${snippets.length} carry a <!-- snippet: name platform --> marker`);
  const names = snippets.map((snippet) => snippet.name);
  if (new Set(names).size !== names.length) throw new Error(`README snippet names repeat: ${names.join(', ')}`);
  return snippets;
}

/** The snippet called `name`; throws when the README lost it. */
export function snippetNamed(snippets: readonly Snippet[], name: string): Snippet {
  const snippet = snippets.find((candidate) => candidate.name === name);
  if (snippet === undefined) throw new Error(`README has no snippet "${name}"`);
  return snippet;
}
