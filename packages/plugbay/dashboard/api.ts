/// <reference lib="dom" />
/**
 * The dashboard's calls to the gateway's JSON API. When the gateway has an admin token, the first 401 shows a
 * form for it; the token is kept in this tab's sessionStorage and sent as `authorization: Bearer <token>`.
 */
import { $ } from './dom.js';

const tokenKey = 'plugbay-admin-token';

/** A refused call: the gateway's error code (PLUGBAY_*) when it sent one, and the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-plugbay-actor': 'dashboard' };
  const token = sessionStorage.getItem(tokenKey);
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  if (res.status === 401) askForToken(token !== null);
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok)
    throw new ApiError(
      res.status,
      json.error?.code,
      json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`,
    );
  return json;
}

/** Says what happened in the page's status line (a polite live region). */
export function announce(text: string, isError = false): void {
  const status = $('status');
  status.textContent = text;
  status.className = isError ? 'status error' : 'status';
}

let afterAction: () => Promise<void> = async () => {};

/** What runs after every action (the app's refresh). */
export function onAction(refresh: () => Promise<void>): void {
  afterAction = refresh;
}

/** Runs an admin action, announces its outcome, then refreshes the page. */
export async function act(label: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
    announce(`${label}: done`);
  } catch (err) {
    announce(`${label}: ${(err as Error).message}`, true);
  }
  await afterAction();
}

/** True while the token form is shown: refreshes stop until a token is given. */
export function waitingForToken(): boolean {
  return !($('login') as HTMLFormElement).hidden;
}

/** Shows the token form (the gateway answered 401). */
function askForToken(rejected: boolean): void {
  const form = $('login') as HTMLFormElement;
  if (!form.hidden) return;
  if (rejected) sessionStorage.removeItem(tokenKey);
  form.hidden = false;
  $('login-note').textContent = rejected
    ? 'The gateway refused that token.'
    : 'This gateway asks for its admin token (plugbay serve --admin-token-file).';
  ($('login-token') as HTMLInputElement).focus();
}

/** Wires the token form: a token given is kept and `then` runs (the first refresh with it). */
export function setUpLogin(then: () => void): void {
  ($('login') as HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('login-token') as HTMLInputElement;
    if (input.value === '') return;
    sessionStorage.setItem(tokenKey, input.value);
    input.value = '';
    ($('login') as HTMLFormElement).hidden = true;
    then();
  });
}
