/**
 * Where a client's copy stands, as carried by its sync token. Change ids are explained in
 * db/migrations/003_sync.ts; how a position advances, in feed.ts.
 */
export interface SyncPosition {
  /** Tokens belong to one user, so a client that switches accounts cannot skip changes. */
  userId: number;
  /** Every change with a change id below this has reached the client; 0: nothing has yet. */
  from: number;
  /** Set while a round of pages is under way (`more` was true). */
  round?: {
    /** The watermark of the round's first page: `from` once the round is over. */
    watermark: number;
    /** The last change delivered, in (change id, id) order. */
    changeId: number;
    id: number;
  };
}

const VERSION = 's1';
const MAX_TOKEN_LENGTH = 200;
const NUMBER = /^(?:0|[1-9][0-9]{0,15})$/;

/** An opaque text: clients store it and send it back, nothing more. */
export function encodeToken(position: SyncPosition): string {
  const { userId, from, round } = position;
  const fields = round ? [userId, from, round.watermark, round.changeId, round.id] : [userId, from];
  return Buffer.from([VERSION, ...fields].join('.'), 'latin1').toString('base64url');
}

/** The position a token stands for; undefined for anything this server did not issue. */
export function parseToken(token: string): SyncPosition | undefined {
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const [version, ...fields] = Buffer.from(token, 'base64url').toString('latin1').split('.');
  if (version !== VERSION || (fields.length !== 2 && fields.length !== 5)) return undefined;
  if (!fields.every((field) => NUMBER.test(field))) return undefined;
  const numbers = fields.map(Number);
  if (!numbers.every(Number.isSafeInteger)) return undefined;
  const [userId, from, watermark, changeId, id] = numbers as [number, number, number?, number?, number?];
  const position: SyncPosition =
    watermark === undefined ? { userId, from } : { userId, from, round: { watermark, changeId: changeId!, id: id! } };
  if (position.round && (position.round.watermark < position.from || position.round.changeId < position.from)) {
    return undefined;
  }
  // One spelling per position: base64 leaves some bits of the last character free.
  return encodeToken(position) === token ? position : undefined;
}
