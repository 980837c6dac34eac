/** The host's values of the variables the manifest declares (`permissions.env`), and nothing else. */
export function declaredEnv(names: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
