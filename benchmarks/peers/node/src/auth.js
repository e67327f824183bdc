// JWT identity for sockets and HTTP: HS256 tokens carrying sub, role, exp and,
// for staff, an optional counterId.

import jwt from "jsonwebtoken";

export const ROLES = new Set(["admin", "staff", "customer"]);
export const GUEST = Object.freeze({ userId: null, role: "guest", counterId: null });

const CUSTOMER_TOKEN_TTL_SECONDS = 24 * 60 * 60;

export class AuthError extends Error {}

export function verifyToken(token, secret) {
  let claims;
  try {
    claims = jwt.verify(token, secret, { algorithms: ["HS256"] });
  } catch {
    throw new AuthError("unauthorized");
  }
  const valid =
    typeof claims === "object" &&
    typeof claims.sub === "string" &&
    claims.sub !== "" &&
    ROLES.has(claims.role) &&
    typeof claims.exp === "number";
  if (!valid) throw new AuthError("unauthorized");
  const counterId = claims.counterId;
  return {
    userId: claims.sub,
    role: claims.role,
    counterId: counterId === undefined || counterId === null ? null : String(counterId),
  };
}

export function signCustomerToken(userId, secret) {
  return jwt.sign({ sub: userId, role: "customer" }, secret, {
    algorithm: "HS256",
    expiresIn: CUSTOMER_TOKEN_TTL_SECONDS,
  });
}

// Socket.IO middleware: no token means a guest, anything else must verify.
export function socketAuth(secret) {
  return (socket, next) => {
    const token = socket.handshake.auth?.token;
    if (token === undefined || token === null || token === "") {
      socket.data.identity = GUEST;
      return next();
    }
    if (typeof token !== "string") return next(new Error("unauthorized"));
    try {
      socket.data.identity = verifyToken(token, secret);
      next();
    } catch {
      next(new Error("unauthorized"));
    }
  };
}

function bearerToken(req) {
  const header = req.get("authorization");
  if (!header) return null;
  const [scheme, token] = header.split(" ");
  return scheme?.toLowerCase() === "bearer" && token ? token : undefined;
}

// Express middleware: sets req.identity to the caller, or GUEST without a
// token. A malformed or invalid token is 401 even on open routes.
export function identify(secret) {
  return (req, res, next) => {
    const token = bearerToken(req);
    if (token === null) {
      req.identity = GUEST;
      return next();
    }
    try {
      req.identity = verifyToken(token ?? "", secret);
      next();
    } catch {
      res.status(401).json({ error: "unauthorized" });
    }
  };
}

export function requireRole(...roles) {
  const allowed = new Set(roles);
  return (req, res, next) => {
    if (req.identity.role === "guest") return res.status(401).json({ error: "unauthorized" });
    if (!allowed.has(req.identity.role)) return res.status(403).json({ error: "forbidden" });
    next();
  };
}
