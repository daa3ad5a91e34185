import { AppError } from '../errors';

/** Small helpers for form posts and route parameters. */

export function formField(body: unknown, name: string): string {
  if (!body || typeof body !== 'object') return '';
  const v = (body as Record<string, unknown>)[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return '';
}

export function parseId(value: unknown): number | null {
  return typeof value === 'string' && /^[1-9][0-9]{0,8}$/.test(value) ? Number(value) : null;
}

export function notFound(): AppError {
  return new AppError('NOT_FOUND', 'not found');
}
