// Reads the peer's configuration from the environment. Names and defaults
// mirror the queuecast server so the load generator can drive both alike.

function list(raw) {
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

function number(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  }
  return value;
}

export function loadConfig(env = process.env) {
  const services = list(env.SERVICES ?? "Finance,Registrar,Admissions");
  if (services.length === 0) throw new Error("SERVICES must name at least one service");

  return {
    port: number(env, "PORT", 5001),
    jwtSecret: env.JWT_SECRET || "bench-secret",
    allowedOrigins: new Set(list(env.SOCKET_IO_ORIGIN ?? "http://localhost:5173")),
    services,
    pingInterval: number(env, "PING_INTERVAL", 25000),
    pingTimeout: number(env, "PING_TIMEOUT", 20000),
    maxHttpBufferSize: number(env, "MAX_HTTP_BUFFER_SIZE", 1e6),
    timezone: env.QUEUE_TIMEZONE || "Africa/Nairobi",
    debug: (env.LOG_LEVEL ?? "").toLowerCase() === "debug",
  };
}
