'use strict'
// Bearer tokens with scopes, and `POST /v1/auth/request` with the daemon's consent prompt
// (answered by `consent`: allow, deny (remembered, like the daemon's deny cache) or dismiss).
const crypto = require('node:crypto')
const { errorBody } = require('./http.js')

const KNOWN_SCOPES = ['client', 'daemon_status', 'global_transcriptions', 'secrets', 'settings', 'status', 'transcribe', 'widget']

class Auth {
  /** `tokens`: `{ [token]: scopes[] }`; `consent`: 'allow' | 'deny' | 'dismiss'. */
  constructor({ tokens = {}, consent = 'allow', consentDelayMs = 0 } = {}) {
    this.tokens = new Map(Object.entries(tokens))
    this.expired = new Set()
    this.denied = new Set()
    this.consent = { decision: consent, delayMs: consentDelayMs }
  }

  /** `{ status: 101, token }` for an upgrade the token allows, else the refusal. */
  authorize(authorization) {
    const token = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : null
    if (token === null || !this.tokens.has(token)) return { status: 401, body: errorBody('invalid_session', 'unknown') }
    if (this.expired.has(token)) return { status: 401, body: errorBody('invalid_session', 'expired') }
    if (!this.tokens.get(token).includes('transcribe')) return { status: 403, body: errorBody('scope_denied') }
    return { status: 101, token }
  }

  mint(scopes) {
    const token = `stt_${crypto.randomBytes(32).toString('hex')}`
    this.tokens.set(token, scopes)
    return token
  }

  /** The answer `{ status, body }` to the body of a `POST /v1/auth/request`. */
  async request(raw) {
    let body
    try {
      body = JSON.parse(raw)
    } catch {
      return { status: 400, body: errorBody('auth_denied', 'invalid_body') }
    }
    if (typeof body?.app_name !== 'string' || !Array.isArray(body.scopes)) return { status: 400, body: errorBody('auth_denied', 'invalid_body') }
    if (body.scopes.length === 0 || !body.scopes.every((s) => KNOWN_SCOPES.includes(s))) {
      return { status: 400, body: errorBody('auth_denied', 'invalid_scope') }
    }
    const scopes = [...new Set(body.scopes)].sort()
    const key = scopes.join(' ')
    if (this.denied.has(key)) return { status: 403, body: errorBody('auth_denied', 'user_denied_cached') }
    if (this.consent.delayMs > 0) await new Promise((r) => setTimeout(r, this.consent.delayMs))
    if (this.consent.decision === 'deny') {
      this.denied.add(key)
      return { status: 403, body: errorBody('auth_denied', 'user_denied') }
    }
    if (this.consent.decision === 'dismiss') return { status: 403, body: errorBody('auth_denied', 'user_dismissed') }
    const expiresAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString()
    return { status: 200, body: JSON.stringify({ status: 'success', session_token: this.mint(scopes), scopes, expires_at: expiresAt }) }
  }
}

module.exports = { Auth, KNOWN_SCOPES }
