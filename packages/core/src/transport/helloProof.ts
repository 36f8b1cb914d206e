import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Proof that a peer on the data path is a task of this run. The host draws a per-run secret and
 * hands it to every task in `init`, over the control channel only (never argv or the environment,
 * which `ps` and `/proc` show). A publisher connecting to a task says `hello` with its task id; the
 * receiver answers with a challenge bound to that very connection; the publisher answers with
 * HMAC-SHA256(secret, receiver, sender, challenge). Only then does the receiver grant it room.
 *
 * The challenge is derived, not stored: HMAC(secret, receiver, salt, routing id), where the salt is
 * drawn per receiving socket and the routing id is the one ZeroMQ gave this connection (unique per
 * socket). So a proof is good for one connection of one receiver of one run: replayed on another
 * connection, to another task or in another run, it fails; and a crowd of strangers costs the
 * receiver no memory.
 */

const SECRET_BYTES = 32;

/** A fresh per-run secret (hex). */
export function generateRunSecret(): string {
  return randomBytes(SECRET_BYTES).toString('hex');
}

/** A fresh salt for one receiving socket's challenges. */
export function generateChallengeSalt(): Buffer {
  return randomBytes(16);
}

/** The challenge a receiver sends to the connection `routingId` (hex). */
export function helloChallenge(secret: string, receiver: number, salt: Buffer, routingId: Buffer): string {
  return mac(secret, ['vf challenge v1', String(receiver), salt.toString('hex'), routingId.toString('hex')]);
}

/** The proof a publisher `sender` answers a challenge of task `receiver` with (hex). */
export function helloProof(secret: string, receiver: number, sender: number, challenge: string): string {
  return mac(secret, ['vf hello v1', String(receiver), String(sender), challenge]);
}

/** Whether `proof` answers `challenge` for `sender` → `receiver` under `secret`; never throws. */
export function verifyHelloProof(secret: string, receiver: number, sender: number, challenge: string, proof: unknown): boolean {
  if (typeof proof !== 'string' || !/^[0-9a-f]{64}$/.test(proof)) return false;
  return timingSafeEqual(Buffer.from(helloProof(secret, receiver, sender, challenge), 'hex'), Buffer.from(proof, 'hex'));
}

function mac(secret: string, parts: readonly string[]): string {
  // Parts are joined with a separator none of them contains: no two part lists give the same input.
  return createHmac('sha256', Buffer.from(secret, 'hex')).update(parts.join('\0')).digest('hex');
}
