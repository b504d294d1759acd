// Types of the Consentry npm module (`import { init } from 'consentry'`) and
// of `window.consentry` from the script tag: the same API, documented in
// src/lib.rs and the README. The config's type, `ConsentryConfig`, is made
// from consentry.schema.json by `cargo xtask dist` (config.d.ts), so a config
// the schema refuses is a type error.

import type { ConsentrySiteConfig } from './config.js';

export type ConsentryConfig = ConsentrySiteConfig;

/** The visitor's stored choice, as `getConsent()` gives it. */
export interface Consent {
  /** Granted category and service ids, necessary ones included. */
  categories: string[];
  revision: number;
  /** ISO 8601. */
  givenAt: string;
  /** ISO 8601. */
  expiresAt: string;
  /** The consent receipt of this choice ('' without an endpoint). */
  receiptId: string;
}

/** What `on('change')` callbacks and the `consentry:change` event get. */
export interface ConsentChange extends Consent {
  action: 'grant' | 'update' | 'withdraw';
  method: 'accept_all' | 'reject_all' | 'save_preferences' | 'api' | 'placeholder';
  /** Ids granted by this change. */
  granted: string[];
  /** Ids refused by this change. */
  refused: string[];
}

/** What the `consentry:form` event gets when a form's data is sent. */
export interface FormConsent {
  /** The config's selector of the form. */
  form: string;
  purposes: { id: string; granted: boolean }[];
  receiptId: string;
}

export interface ConsentryApi {
  /** Shows the banner (first layer) again. */
  show(): void;
  /** Opens the preferences dialog. */
  showPreferences(): void;
  /** As the "Accept all" button (receipt method `api`). */
  acceptAll(): void;
  /** As "Reject all"; after a grant, a withdrawal. */
  rejectAll(): void;
  /** Grants exactly these category and service ids; refuses the other optional ones. */
  acceptCategories(ids: string[]): void;
  /** Shows the widget in another language without a reload. */
  setLanguage(code: string): Promise<void>;
  /** `null` before the visitor chose. */
  getConsent(): Consent | null;
  /** Whether a category (or service) may run now; `necessary` always may. */
  isGranted(id: string): boolean;
  /** Whether a service may run now (and, with `category`, is one of that category's). */
  acceptedService(id: string, category?: string): boolean;
  /** Calls `callback` on every change; returns the function that unsubscribes. */
  on(event: 'change', callback: (detail: ConsentChange) => void): () => void;
  /** Forgets the choice and asks again. */
  reset(): void;
  /** Hides the banner without a choice (no consent; `show()` brings it back). */
  hide(): void;
  /** Closes the preferences dialog without a choice. */
  hidePreferences(): void;
  /** Whether the visitor has a current choice. */
  validConsent(): boolean;
  /** The config the page started with, read-only; null when it is not JSON. */
  getConfig(): Readonly<ConsentryConfig> | null;
  /** The choice as vanilla-cookieconsent names it; `acceptType` is null before a choice. */
  getUserPreferences(): UserPreferences;
  /** Deletes the cookies named (or matching) at `path` (default '/') and `domain` (default host-only). */
  eraseCookies(names: string | string[] | RegExp, path?: string, domain?: string): void;
  /**
   * Loads a script with the page's CSP nonce (a string `src` through the
   * Trusted Types policy `consentry`: an http(s), relative or blob: URL);
   * resolves once it ran.
   */
  loadScript(src: string, attributes?: Record<string, string>): Promise<void>;
  /** `ready` (said once per page; a late subscriber still hears it) and `form`: the window events' details. */
  on(event: 'ready', callback: (detail: Consent | null) => void): () => void;
  on(event: 'form', callback: (detail: FormConsent) => void): () => void;
}

export interface UserPreferences {
  acceptType: 'all' | 'necessary' | 'custom' | null;
  acceptedCategories: string[];
  rejectedCategories: string[];
  /** Service ids by category id. */
  acceptedServices: Record<string, string[]>;
  rejectedServices: Record<string, string[]>;
}

/**
 * Starts the widget with a site config (or its JSON text); resolves once it
 * runs on the page, or has said on the console why not.
 */
export function init(config: ConsentryConfig | string): Promise<void>;
export const show: ConsentryApi['show'];
export const showPreferences: ConsentryApi['showPreferences'];
export const acceptAll: ConsentryApi['acceptAll'];
export const rejectAll: ConsentryApi['rejectAll'];
export const acceptCategories: ConsentryApi['acceptCategories'];
export const setLanguage: ConsentryApi['setLanguage'];
export const getConsent: ConsentryApi['getConsent'];
export const isGranted: ConsentryApi['isGranted'];
export const acceptedService: ConsentryApi['acceptedService'];
export const on: ConsentryApi['on'];
export const reset: ConsentryApi['reset'];
export const hide: ConsentryApi['hide'];
export const hidePreferences: ConsentryApi['hidePreferences'];
export const validConsent: ConsentryApi['validConsent'];
export const getConfig: ConsentryApi['getConfig'];
export const getUserPreferences: ConsentryApi['getUserPreferences'];
export const eraseCookies: ConsentryApi['eraseCookies'];
export const loadScript: ConsentryApi['loadScript'];

declare global {
  interface Window {
    /** Set by the script tag (`consentry.js`) once the widget runs. */
    consentry?: ConsentryApi;
  }
  interface WindowEventMap {
    'consentry:ready': CustomEvent<Consent | null>;
    'consentry:change': CustomEvent<ConsentChange>;
    'consentry:form': CustomEvent<FormConsent>;
  }
}
