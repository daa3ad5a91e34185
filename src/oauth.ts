import type { Config } from './config';
import { AppError } from './errors';

/**
 * Microsoft 365 daemon sign-in: OAuth2 client credentials → access token for IMAP and SMTP
 * (SASL XOAUTH2). The token is cached and fetched anew a few minutes before it expires.
 */
export class TokenProvider {
  private token: { value: string; expiresAt: number } | null = null;

  constructor(
    private readonly oauth: NonNullable<Config['oauth']>,
    private readonly tokenUrl = `https://login.microsoftonline.com/${encodeURIComponent(oauth.tenantId)}/oauth2/v2.0/token`,
    private readonly now: () => number = Date.now,
  ) {}

  async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - 300_000 > this.now()) return this.token.value;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.oauth.clientId,
      client_secret: this.oauth.clientSecret,
      scope: 'https://outlook.office365.com/.default',
    });
    const res = await fetch(this.tokenUrl, { method: 'POST', body, signal: AbortSignal.timeout(15_000) });
    const json = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string };
    if (!res.ok || !json.access_token) {
      throw new AppError('IMAP_ERROR', `OAuth2 token request failed (${res.status} ${json.error ?? ''})`.trim(), { status: res.status });
    }
    this.token = { value: json.access_token, expiresAt: this.now() + (json.expires_in ?? 3600) * 1000 };
    return this.token.value;
  }
}
