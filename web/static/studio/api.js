// @ts-check
/** The studio's calls to the public API with the signed-in token, and what failures mean. */

export class ApiError extends Error {
  /** @param {number} status 0 when the server could not be reached @param {string} detail */
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

export const OFFLINE =
  "Can’t reach the server — check your connection. Nothing was lost: try again when you’re back online.";

/**
 * @template T
 * @typedef {{data: T, headers: Headers}} ApiResult
 */

export class Api {
  constructor() {
    /** @type {string | null} */
    this.token = null;
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
    const h = { Accept: "application/json", ...headers };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
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
      let detail = data && data.detail ? data.detail : response.statusText;
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
    if (!(err instanceof ApiError)) return `Something went wrong: ${String(err)}`;
    if (err.status === 0) return OFFLINE;
    if (err.status === 401) {
      this.onUnauthorized();
      return "Your token is no longer valid.";
    }
    if (err.status === 403) return `Not allowed with this token: ${err.detail}`;
    if (err.status === 413) return `Too long: ${err.detail}`;
    if (err.status === 422 || err.status === 400) return `Please fix: ${err.detail}`;
    if (err.status === 404) return `Not found: ${err.detail}`;
    if (err.status >= 500) return `The server had a problem (${err.status}). Try again in a moment.`;
    return err.detail || `Request failed (${err.status}).`;
  }
}

/** @param {unknown} err */
export function statusOf(err) {
  return err instanceof ApiError ? err.status : -1;
}
