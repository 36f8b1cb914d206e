import { describe, expect, it } from 'vitest';
import { generateChallengeSalt, generateRunSecret, helloChallenge, helloProof, verifyHelloProof } from './helloProof.js';

describe('the hello proof (peer identity on the data path)', () => {
  const secret = generateRunSecret();
  const salt = generateChallengeSalt();
  const connection = Buffer.from([0, 0x12, 0x34, 0x56, 0x78]);
  const challenge = helloChallenge(secret, 2, salt, connection);

  it('verifies the answer of a task that holds the run secret', () => {
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(challenge).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyHelloProof(secret, 2, 1, challenge, helloProof(secret, 2, 1, challenge))).toBe(true);
  });

  it('refuses a proof made without the secret, or with another run’s', () => {
    expect(verifyHelloProof(secret, 2, 1, challenge, helloProof(generateRunSecret(), 2, 1, challenge))).toBe(false);
    expect(verifyHelloProof(secret, 2, 1, challenge, '00'.repeat(32))).toBe(false);
  });

  it('refuses a replayed proof: on another connection, to another receiver, or claiming another sender', () => {
    const proof = helloProof(secret, 2, 1, challenge);
    const otherConnection = helloChallenge(secret, 2, salt, Buffer.from([0, 0x12, 0x34, 0x56, 0x79]));
    expect(otherConnection).not.toBe(challenge);
    expect(verifyHelloProof(secret, 2, 1, otherConnection, proof)).toBe(false);
    expect(verifyHelloProof(secret, 3, 1, challenge, proof)).toBe(false);
    expect(verifyHelloProof(secret, 2, 0, challenge, proof)).toBe(false);
    // The same routing id on another socket (another salt) gets another challenge.
    expect(helloChallenge(secret, 2, generateChallengeSalt(), connection)).not.toBe(challenge);
  });

  it('refuses anything that is not a proof, without throwing', () => {
    for (const junk of [undefined, null, 42, '', 'zz'.repeat(32), '00'.repeat(31), '00'.repeat(33), { proof: true }]) {
      expect(verifyHelloProof(secret, 2, 1, challenge, junk)).toBe(false);
    }
  });
});
