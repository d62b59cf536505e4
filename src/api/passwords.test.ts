import { describe, expect, it } from 'vitest';
import { hashPassword, SCRYPT_PARAMS, verifyPassword } from './passwords.ts';

describe('customer passwords', () => {
  it('are stored as a salted scrypt hash with its parameters, never as themselves', async () => {
    const password = 'a long enough passphrase';
    const [one, two] = [await hashPassword(password), await hashPassword(password)];
    expect(one).toMatch(new RegExp(`^scrypt\\$${SCRYPT_PARAMS.N}\\$${SCRYPT_PARAMS.r}\\$${SCRYPT_PARAMS.p}\\$[\\w-]{22}\\$[\\w-]{43}$`));
    expect(one).not.toContain(password);
    expect(one).not.toBe(two); // a salt of its own each time
    expect(SCRYPT_PARAMS.N * SCRYPT_PARAMS.r * 128).toBeGreaterThanOrEqual(32 * 1024 * 1024); // memory-hard: 32 MiB a hash
  });

  it('verify the right password only', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'bcrypt$whatever')).toBe(false);
  });

  it('keep verifying hashes made with other parameters', async () => {
    // A hash of older, cheaper parameters (N = 2^14, r = 8, p = 1) of "old password 1".
    const salt = Buffer.from('0123456789abcdef');
    const { scryptSync } = await import('node:crypto');
    const key = scryptSync('old password 1', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const old = `scrypt$${2 ** 14}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifyPassword('old password 1', old)).toBe(true);
  });
});
