/**
 * Message stream encryption: the Diffie-Hellman values and keystreams against values computed
 * independently (Python's pow and hashlib, RC4 from RFC 6229's vectors), transcripts built here
 * by hand from the specification fed to each side, every bound a hostile peer could push, and a
 * seeded fuzz of both handshake parsers.
 */
import { FrameReader } from "../../src/peer/connection.ts";
import { acceptPeer, PeerRouter, selectCrypto } from "../../src/peer/listener.ts";
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  dhKeys,
  dhSecret,
  KEY_LENGTH,
  mseCiphers,
  mseInitiate,
  mseRespond,
  skeyHash,
} from "../../src/peer/mse.ts";
import { ProtocolError } from "../../src/peer/messages.ts";
import { type ByteStream, streamPair } from "../../src/peer/stream.ts";
import { bytesEqual, fromHex, sha1, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { concat, mutate } from "../ext/_mutate.ts";
import { mulberry32, randomInt } from "../random.ts";

const A = dhKeys(BigInt("0x" + "a1".repeat(20)));
const B = dhKeys(BigInt("0x" + "5c".repeat(20)));
const INFO_HASH = Uint8Array.from({ length: 20 }, (_, i) => i);
const TEXT = new TextEncoder();

/** Values computed with Python (pow, hashlib and a ten-line RC4) for the keys above. */
const KNOWN = {
  ya: "9ca3be10af67261f185b97df8534d9ee7a9e97d55fde2ba825230e138fc256e31be61a9cc8d5e580ac8c2f9" +
    "18360f1e3b16aec77dc7a4b7954ce54e5f13690afb4de5c7518d7eef602ab9da0d5c9fe37aedacdcd0d6fa3fb" +
    "b1870007ef728a27",
  yb: "6c42f61f1417cb304e414791cc476915d12056eeffdbe3db4ec15fe29da4b45d4fd36c32a289dd664281a25" +
    "e397ae403decdd3bf1a6174bf37ef1e4f235eca6c340baefd13d331b00e37f923f214576a82b98574ddbff5c7" +
    "6d960d87a7e412dd",
  secret: "e4faebd3a448e850c9118b53e2a2ae8078558e3a3d6f9613758c4159a8709c7d40564284d66422e76f6" +
    "938729a78082e2fcb4d1d481bc5acbb129aa974685e5a901785e3983465d31ebae87d3478996f83dc4bb4b71" +
    "db8041da27d048e1f80d8",
  keyAStream: "23e6747946335aa568500a5033cd3313",
  keyBStream: "799ec4cd3f471b1cfdbf1e6e7a1b7819",
  req1: "3ac659072fb4bb8167e14b957d8c586b9a01f292",
  req2xor3: "da7b94ce245a670191af5051b2902f02f65732fe",
};
const SECRET = fromHex(KNOWN.secret);

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function u16(n: number): Uint8Array {
  return new Uint8Array([n >> 8, n & 0xff]);
}

/** Side A's bytes (steps 1 and 3), built from the specification with keys A and B. */
function initiatorBytes(
  o: { padA?: number; provide?: number; padC?: number; ia?: Uint8Array; vc?: Uint8Array } = {},
): Uint8Array {
  const ia = o.ia ?? new Uint8Array(0);
  const padC = new Uint8Array(o.padC ?? 0).fill(0x5a);
  const tail = concat(
    o.vc ?? new Uint8Array(8),
    u32(o.provide ?? CRYPTO_RC4),
    u16(padC.length),
    padC,
    u16(ia.length),
    ia,
  );
  mseCiphers(SECRET, INFO_HASH, "A").encrypt.process(tail);
  const req2xor3 = sha1(TEXT.encode("req2"), INFO_HASH)
    .map((v, i) => v ^ sha1(TEXT.encode("req3"), SECRET)[i]);
  return concat(
    A.publicKey,
    new Uint8Array(o.padA ?? 0).fill(0xa5),
    sha1(TEXT.encode("req1"), SECRET),
    req2xor3,
    tail,
  );
}

/** Side B's bytes (steps 2 and 4, then `payload`), built from the specification. */
function responderBytes(
  o: { padB?: number; select?: number; padD?: number; payload?: Uint8Array } = {},
): Uint8Array {
  const padD = new Uint8Array(o.padD ?? 0).fill(0x33);
  const select = o.select ?? CRYPTO_RC4;
  const { encrypt } = mseCiphers(SECRET, INFO_HASH, "B");
  const answer = concat(new Uint8Array(8), u32(select), u16(padD.length), padD);
  encrypt.process(answer);
  const payload = (o.payload ?? new Uint8Array(0)).slice();
  if (select === CRYPTO_RC4) encrypt.process(payload);
  return concat(B.publicKey, new Uint8Array(o.padB ?? 0).fill(0x77), answer, payload);
}

function lookup(hash: Uint8Array): Uint8Array | undefined {
  return bytesEqual(hash, skeyHash(INFO_HASH)) ? INFO_HASH : undefined;
}

/** A stream whose other end sends `bytes`, then ends its side; what we write is swallowed. */
function fed(bytes: Uint8Array): ByteStream {
  let at = 0;
  return {
    remoteAddress: "127.0.0.2:1",
    encrypted: false,
    transport: "tcp",
    read: (into) => {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(into.length, bytes.length - at, 1 + (at % 700));
      into.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write: (written) => Promise.resolve(written.length),
    close: () => {},
  };
}

Deno.test("mse: Diffie-Hellman public keys, secret, keystreams and hashes equal the known values", () => {
  assertEquals(toHex(A.publicKey), KNOWN.ya);
  assertEquals(toHex(B.publicKey), KNOWN.yb);
  assertEquals(toHex(dhSecret(A, B.publicKey)), KNOWN.secret);
  assertEquals(toHex(dhSecret(B, A.publicKey)), KNOWN.secret);
  const a = mseCiphers(SECRET, INFO_HASH, "A"), b = mseCiphers(SECRET, INFO_HASH, "B");
  const stream = (rc4: typeof a.encrypt) => {
    const out = new Uint8Array(16);
    rc4.process(out);
    return toHex(out);
  };
  assertEquals(stream(a.encrypt), KNOWN.keyAStream);
  assertEquals(stream(a.decrypt), KNOWN.keyBStream);
  assertEquals(stream(b.decrypt), KNOWN.keyAStream);
  assertEquals(stream(b.encrypt), KNOWN.keyBStream);
  const start = initiatorBytes({ padA: 0 });
  assertEquals(toHex(start.subarray(KEY_LENGTH, KEY_LENGTH + 20)), KNOWN.req1);
  assertEquals(toHex(start.subarray(KEY_LENGTH + 20, KEY_LENGTH + 40)), KNOWN.req2xor3);
});

Deno.test("mse: random private keys are 160 bits and give each side the same secret", () => {
  for (let i = 0; i < 5; i++) {
    const x = dhKeys(), y = dhKeys();
    assertEquals(x.x.toString(2).length, 160);
    assertEquals(dhSecret(x, y.publicKey), dhSecret(y, x.publicKey));
  }
});

Deno.test("mse: degenerate public keys (0, 1, P-1, P and above) are refused", async () => {
  const p1 = fromHex(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A087" +
      "98E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3" +
      "6210000000000090562",
  );
  const one = new Uint8Array(KEY_LENGTH);
  one[KEY_LENGTH - 1] = 1;
  for (const y of [new Uint8Array(KEY_LENGTH), one, p1, new Uint8Array(KEY_LENGTH).fill(0xff)]) {
    const reader = new FrameReader(fed(y));
    await assertRejects(
      () => mseRespond(reader, { lookup, select: () => CRYPTO_RC4 }),
      ProtocolError,
      "invalid public key",
    );
  }
});

Deno.test("mse: the responder takes a transcript built from the specification, pads and IA included", async () => {
  for (const padA of [0, 1, 512]) {
    for (const padC of [0, 512]) {
      const ia = TEXT.encode("initial payload");
      const rest = TEXT.encode("and the stream after it");
      const payload = rest.slice();
      const ours = initiatorBytes({ padA, padC, ia, provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT });
      // What follows the handshake is encrypted with the same keyA stream.
      const cipher = mseCiphers(SECRET, INFO_HASH, "A").encrypt;
      cipher.process(ours.slice(KEY_LENGTH + padA + 40)); // advance past the tail sent
      cipher.process(payload);
      const [a, b] = streamPair();
      await a.write(concat(ours, payload));
      const result = await mseRespond(new FrameReader(b), {
        lookup,
        select: (provided) => selectCrypto("prefer", provided),
        keys: B,
      });
      assertEquals(result.infoHash, INFO_HASH);
      assert(result.stream.encrypted, "RC4 selected when offered");
      assertEquals(
        new TextDecoder().decode(result.buffered),
        "initial payload" + "and the stream after it",
      );
      // What B sent: Yb, PadB, then VC and crypto_select under keyB.
      const sent = new Uint8Array(2000);
      let got = 0;
      while (got < KEY_LENGTH + 8 + 6) got += (await a.read(sent.subarray(got)))!;
      assertEquals(toHex(sent.subarray(0, KEY_LENGTH)), KNOWN.yb);
      a.close();
      b.close();
    }
  }
});

Deno.test("mse: the initiator takes a responder transcript built from the specification", async () => {
  for (const select of [CRYPTO_RC4, CRYPTO_PLAINTEXT]) {
    for (const padB of [0, 512]) {
      const payload = TEXT.encode("\x13BitTorrent protocol...");
      const stream = fed(responderBytes({ select, padB, padD: 17, payload }));
      const result = await mseInitiate(new FrameReader(stream), {
        infoHash: INFO_HASH,
        provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT,
        keys: A,
      });
      assertEquals(result.stream.encrypted, select === CRYPTO_RC4);
      // The payload: partly read with the handshake, the rest still in the stream.
      const after = new FrameReader(result.stream, undefined, result.buffered);
      const got = await after.exact(payload.length);
      assertEquals(new TextDecoder().decode(got!), "\x13BitTorrent protocol...");
      assertEquals(await after.exact(1), null);
    }
  }
});

Deno.test("mse: both of our sides agree on every offer and policy; payload crosses both ways", async () => {
  const cases: [number, "prefer" | "require", number | undefined][] = [
    [CRYPTO_RC4 | CRYPTO_PLAINTEXT, "prefer", CRYPTO_RC4],
    [CRYPTO_RC4, "prefer", CRYPTO_RC4],
    [CRYPTO_PLAINTEXT, "prefer", CRYPTO_PLAINTEXT],
    [CRYPTO_RC4 | CRYPTO_PLAINTEXT, "require", CRYPTO_RC4],
    [CRYPTO_PLAINTEXT, "require", undefined],
  ];
  for (const [provide, policy, expected] of cases) {
    const [a, b] = streamPair();
    const ia = TEXT.encode("hello");
    const initiating = mseInitiate(new FrameReader(a), {
      infoHash: INFO_HASH,
      provide,
      initialPayload: ia,
    });
    const responding = mseRespond(new FrameReader(b), {
      lookup,
      select: (provided) => selectCrypto(policy, provided),
    });
    if (expected === undefined) {
      await assertRejects(() => responding, ProtocolError, "no method in common");
      b.close();
      await assertRejects(() => initiating, ProtocolError);
      continue;
    }
    const [ours, theirs] = await Promise.all([initiating, responding]);
    assertEquals(ours.stream.encrypted, expected === CRYPTO_RC4);
    assertEquals(theirs.stream.encrypted, expected === CRYPTO_RC4);
    assertEquals(new TextDecoder().decode(theirs.buffered), "hello");
    const big = new Uint8Array(300_000).map((_, i) => i * 7);
    const into = new Uint8Array(big.length);
    const [, received] = await Promise.all([
      ours.stream.write(big),
      (async () => {
        let got = 0;
        while (got < big.length) got += (await theirs.stream.read(into.subarray(got)))!;
        return into;
      })(),
    ]);
    assertEquals(received, big);
    await theirs.stream.write(TEXT.encode("back"));
    const back = new Uint8Array(4);
    await ours.stream.read(back);
    assertEquals(new TextDecoder().decode(back), "back");
    a.close();
    b.close();
  }
});

Deno.test("mse: every bound holds against a hostile peer", async () => {
  const refuse = async (bytes: Uint8Array, side: "A" | "B", includes: string) => {
    const reader = new FrameReader(fed(bytes));
    const run = side === "B"
      ? () => mseRespond(reader, { lookup, select: () => CRYPTO_RC4, keys: B })
      : () => mseInitiate(reader, { infoHash: INFO_HASH, provide: CRYPTO_RC4, keys: A });
    await assertRejects(run, ProtocolError, includes);
  };
  const junk = new Uint8Array(2000).fill(0x41);
  // No req1 within PadA's 512 bytes: ends after 532 bytes, not at the end of the junk.
  await refuse(concat(A.publicKey, junk), "B", "no req1 hash from the peer within 532 bytes");
  await refuse(initiatorBytes({ padA: 513 }), "B", "within 532 bytes");
  await refuse(
    concat(B.publicKey, junk),
    "A",
    "no verification constant from the peer within 520 bytes",
  );
  await refuse(responderBytes({ padB: 513 }), "A", "within 520 bytes");
  await refuse(initiatorBytes({ padC: 513 }), "B", "PadC of 513 bytes");
  await refuse(responderBytes({ padD: 513 }), "A", "PadD of 513 bytes");
  await refuse(
    initiatorBytes({ vc: new Uint8Array(8).fill(1) }),
    "B",
    "wrong verification constant",
  );
  await refuse(responderBytes({ select: CRYPTO_PLAINTEXT }), "A", "not one we offered");
  await refuse(
    responderBytes({ select: CRYPTO_RC4 | CRYPTO_PLAINTEXT }),
    "A",
    "not one we offered",
  );
  await refuse(responderBytes({ select: 8 }), "A", "not one we offered");
  await refuse(initiatorBytes().subarray(0, 150), "B", "connection closed");
  const otherTorrent = initiatorBytes();
  otherTorrent[KEY_LENGTH + 25] ^= 1; // the req2 xor req3 hash names no torrent we serve
  await refuse(otherTorrent, "B", "a torrent we do not serve");
});

Deno.test("mse: a peer that stalls mid-handshake is cut off by the deadline", async () => {
  const router = new PeerRouter();
  router.add(INFO_HASH, () => undefined);
  const [a, b] = streamPair();
  await a.write(A.publicKey); // step 1, then silence
  const started = performance.now();
  await assertRejects(
    () => acceptPeer(b, router, "prefer", 150),
    ProtocolError,
    "handshake timed out",
  );
  assert(performance.now() - started < 2000, "gave up at the deadline");
  a.close();
});

Deno.test("mse: the policy decides what the listener takes", async () => {
  const router = new PeerRouter();
  router.add(INFO_HASH, () => undefined);
  const plain = TEXT.encode("\x13BitTorrent protocol");
  await assertRejects(
    () => acceptPeer(fed(plain), router, "require", 1000),
    ProtocolError,
    "plaintext handshake refused: encryption is required",
  );
  await assertRejects(
    () => acceptPeer(fed(initiatorBytes()), router, "off", 1000),
    ProtocolError,
    "encrypted handshake refused: encryption is off",
  );
  assertEquals(selectCrypto("off", CRYPTO_RC4 | CRYPTO_PLAINTEXT), 0);
  assertEquals(selectCrypto("require", CRYPTO_PLAINTEXT), 0);
  assertEquals(selectCrypto("prefer", CRYPTO_PLAINTEXT), CRYPTO_PLAINTEXT);
});

Deno.test("mse fuzz: mutated transcripts only ever give a result or a ProtocolError, on both sides", async () => {
  const rand = mulberry32(0x4d5345);
  const seeds = [
    initiatorBytes({ padA: 30, padC: 12, ia: TEXT.encode("x".repeat(68)) }),
    initiatorBytes({ provide: CRYPTO_PLAINTEXT | CRYPTO_RC4 }),
  ];
  const answers = [
    responderBytes({ padB: 40, padD: 9, payload: TEXT.encode("payload") }),
    responderBytes({ select: CRYPTO_PLAINTEXT }),
  ];
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const side = i % 2 === 0 ? "B" : "A";
    const base = side === "B" ? seeds[randomInt(rand, 2)] : answers[randomInt(rand, 2)];
    const input = mutate(base, rand);
    const reader = new FrameReader(fed(input));
    try {
      if (side === "B") {
        await mseRespond(reader, {
          lookup,
          select: (provided) => selectCrypto("prefer", provided),
          keys: B,
        });
      } else {
        await mseInitiate(reader, {
          infoHash: INFO_HASH,
          provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT,
          keys: A,
        });
      }
      accepted++;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw new Error(`case ${i} (${side}): ${e}`);
    }
  }
  assert(accepted > 0 && accepted < 3000, `${accepted} of 3000 mutated transcripts accepted`);
});
