// Collects expression attribute names and values so the write builders read like the expressions they make.
export class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private count = 0;

  /** A placeholder for an attribute name (safe for reserved words and any characters). */
  name(attribute: string): string {
    const existing = Object.entries(this.names).find(([, a]) => a === attribute);
    if (existing) return existing[0];
    const key = `#n${this.count++}`;
    this.names[key] = attribute;
    return key;
  }

  /** A placeholder for a value. */
  value(v: unknown): string {
    const key = `:v${this.count++}`;
    this.values[key] = v;
    return key;
  }

  /** The names and values to pass with the request, leaving out empty maps DynamoDB rejects. */
  params(): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
    return {
      ...(Object.keys(this.names).length ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}
