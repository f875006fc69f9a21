/** An error as the middle of a sentence for the page: its message without a final full stop. */
export function sentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const trimmed = text.trim().replace(/\.$/, '');
  return trimmed === '' ? 'an unknown error' : trimmed;
}
