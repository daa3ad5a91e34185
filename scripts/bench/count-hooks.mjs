// Resolve hook: `postgres` imported from anywhere but the wrapper resolves to the counting wrapper.
const wrapper = new URL('./postgres-counted.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'postgres' && context.parentURL !== wrapper) return { url: wrapper, shortCircuit: true };
  return next(specifier, context);
}
