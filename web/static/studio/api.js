// @ts-check
/** The studio's calls to the public API with the signed-in token, and what failures mean. */

import { locale, t } from "./i18n.js";

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {string} detail the API's words: its `message` (in the studio's language), else `detail`
   */
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

/** What the studio says when the server cannot be reached. */
export function offline() {
  return t("offline");
}

/**
 * @template T
 * @typedef {{data: T, headers: Headers}} ApiResult
 */

export class Api {
  constructor() {
    /** A bearer token (automation, the token sign-in); null: the session cookie. @type {string | null} */
    this.token = null;
    /** The session's CSRF token, sent on every unsafe call (cookie sign-in). @type {string | null} */
    this.csrf = null;
    /** Called on any 401 (the token expired or was revoked). @type {() => void} */
    this.onUnauthorized = () => {};
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body] sent as JSON
   * @param {Record<string, string>} [headers]
   * @returns {Promise<ApiResult<any>>}
   */
  async call(method, path, body, headers = {}) {
    /** @type {Record<string, string>} */
    // The API adds `message`, its `detail` in this language (the `detail` stays English).
    const h = { Accept: "application/json", "Accept-Language": locale, ...headers };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    else if (this.csrf && method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = this.csrf;
    if (body !== undefined) h["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        // A bearer token stands alone; without one, the session cookie (same origin only).
        credentials: this.token ? "omit" : "same-origin",
      });
    } catch {
      throw new ApiError(0, "network");
    }
    if (response.status === 204) return { data: null, headers: response.headers };
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      let detail = data && (data.message || data.detail) ? data.message || data.detail : response.statusText;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      throw new ApiError(response.status, detail);
    }
    return { data, headers: response.headers };
  }

  /**
   * A human message for a failure; a 401 also signs out (through `onUnauthorized`).
   * @param {unknown} err
   */
  explain(err) {
    if (!(err instanceof ApiError)) return t("went_wrong", { error: String(err) });
    if (err.status === 0) return offline();
    if (err.status === 401) {
      this.onUnauthorized();
      return t("token_no_longer_valid");
    }
    const detail = err.detail;
    if (err.status === 403) return t("not_allowed", { detail });
    if (err.status === 413) return t("too_long", { detail });
    if (err.status === 422 || err.status === 400) return t("please_fix", { detail });
    if (err.status === 404) return t("not_found", { detail });
    if (err.status >= 500) return t("server_problem", { status: err.status });
    return detail || t("request_failed", { status: err.status });
  }
}

/** @param {unknown} err */
export function statusOf(err) {
  return err instanceof ApiError ? err.status : -1;
}
