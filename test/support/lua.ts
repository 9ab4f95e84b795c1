/**
 * Runs an Argo CD health script in a real Lua VM (fengari, Lua 5.3 in JavaScript) the way Argo CD
 * does: the object is the global `obj` (JSON objects and arrays become tables, arrays 1-based) and
 * the script returns a table with `status` and `message`. Argo CD's own VM is gopher-lua (5.1), so
 * `lua51Violations` refuses what 5.1 cannot run, and tests call both.
 */
// @ts-expect-error fengari ships no type declarations
import fengari from "fengari";

const { lua, lauxlib, lualib, to_luastring } = fengari as {
  lua: Record<string, any>;
  lauxlib: Record<string, any>;
  lualib: Record<string, any>;
  to_luastring: (s: string) => Uint8Array;
};

export interface HealthStatus {
  readonly status: string;
  readonly message: string;
}

function push(L: unknown, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === "boolean") lua.lua_pushboolean(L, value);
  else if (typeof value === "number") lua.lua_pushnumber(L, value);
  else if (typeof value === "string") lua.lua_pushstring(L, to_luastring(value));
  else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((v, i) => {
      push(L, v);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else if (typeof value === "object") {
    lua.lua_createtable(L, 0, 0);
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined || v === null) continue;
      push(L, v);
      lua.lua_setfield(L, -2, to_luastring(k));
    }
  } else throw new Error(`cannot pass ${typeof value} to Lua`);
}

export function runHealthScript(script: string, obj: unknown): HealthStatus {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  push(L, obj);
  lua.lua_setglobal(L, to_luastring("obj"));
  if (lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK)
    throw new Error(`Lua syntax: ${lua.lua_tojsstring(L, -1)}`);
  if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) throw new Error(`Lua error: ${lua.lua_tojsstring(L, -1)}`);
  if (!lua.lua_istable(L, -1)) throw new Error("the script did not return a table");
  const field = (name: string): string => {
    lua.lua_getfield(L, -1, to_luastring(name));
    const v = lua.lua_isstring(L, -1) ? (lua.lua_tojsstring(L, -1) as string) : "";
    lua.lua_pop(L, 1);
    return v;
  };
  return { status: field("status"), message: field("message") };
}

/** Constructs of Lua 5.2 and later that gopher-lua (5.1) cannot parse or does not have. */
export function lua51Violations(script: string): string[] {
  const code = script.replace(/--[^\n]*/g, "").replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
  const rules: [RegExp, string][] = [
    [/\bgoto\b|::\w+::/, "goto and labels (5.2)"],
    [/\/\//, "integer division // (5.3)"],
    [/[^~=<>]~[^=]|&|\||<<|>>/, "bitwise operators (5.3)"],
    [/\btable\.(unpack|move|pack)\b/, "table.unpack/move/pack (5.2+)"],
    [/\butf8\.|\bmath\.(tointeger|type|ult)\b|\bstring\.(pack|unpack)\b/, "5.3 library functions"],
    [/\btable\.getn\b/, "table.getn (5.1 only: the test VM lacks it; use #)"],
  ];
  return rules.filter(([re]) => re.test(code)).map(([, what]) => what);
}
