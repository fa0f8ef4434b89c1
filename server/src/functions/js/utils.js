// The `utils` global (`utils.crypto`, `utils.jwt`), made the first time a call uses it.
export default function (rt) {
  const { native, bson, bytesOf, EJSON } = rt;
  return ({
  crypto: {
    hash: (fn, input) => new (bson().Binary)(native("hash", String(fn), bytesOf(input, "utils.crypto.hash"))),
    hmac: (input, secret, fn, format = "hex") => {
      const mac = native("hmac", String(fn), bytesOf(secret, "utils.crypto.hmac"), bytesOf(input, "utils.crypto.hmac"));
      if (format === "base64") return native("b64Encode", mac);
      if (format === "hex") return native("hexEncode", mac);
      throw new TypeError("utils.crypto.hmac: the output format must be \"hex\" or \"base64\"");
    },
    encrypt: (kind, message, key) => new (bson().Binary)(native("encrypt", String(kind), bytesOf(key, "utils.crypto.encrypt"), bytesOf(message, "utils.crypto.encrypt"))),
    decrypt: (kind, encrypted, key) => new (bson().Binary)(native("decrypt", String(kind), bytesOf(key, "utils.crypto.decrypt"), bytesOf(encrypted, "utils.crypto.decrypt"))),
    sign: (kind, message, privateKey, scheme = "pss") => new (bson().Binary)(native("sign", String(kind), bytesOf(message, "utils.crypto.sign"), String(privateKey), String(scheme))),
    verify: (kind, message, publicKey, signature, scheme = "pss") => native("verify", String(kind), bytesOf(message, "utils.crypto.verify"), String(publicKey), bytesOf(signature, "utils.crypto.verify"), String(scheme)),
  },
  jwt: {
    encode: (method, payload, secret, header) =>
      native("jwtEncode", String(method), EJSON.stringify(payload), String(secret), header === undefined ? undefined : EJSON.stringify(header)),
    decode: (token, key, returnHeader = false, accepted = []) => {
      const [header, payload] = native("jwtDecode", String(token), String(key), accepted.map(String));
      const body = EJSON.parse(payload);
      return returnHeader ? { header: EJSON.parse(header), payload: body } : body;
    },
  },
});
}
