//! The JS face of the SDK — the only module that imports wasm-bindgen, js-sys, web-sys and
//! gloo-net: JS classes wrapping the core, the fetch transport, JS ↔ EJSON conversion, errors
//! → JS, and the TypeScript declarations the generated `.d.ts` needs.

mod classes;
mod convert;
mod errors;
mod fetch;

pub use classes::{Credentials, EmailPasswordAuth, JsApp, MongoDBCollection, MongoDBDatabase, MongoDBService, User};
pub use convert::set_bson;
pub use errors::MongoDBRealmError;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Configuration of `new App(config)`. */
export interface AppConfiguration {
  /** The App Services app id. */
  id: string;
  /** Server base URL (default "https://services.cloud.mongodb.com"). */
  baseUrl?: string;
  /** Per-request timeout in milliseconds. */
  timeout?: number;
  /** A fetch-compatible function used instead of `globalThis.fetch`; called as `fetch(url, { method, headers, body, signal })`, like realm-web calls it. */
  fetch?: (input: any, init?: any) => Promise<any>;
  /** Use `baseUrl` as is, without asking the server for its location. */
  skipLocationRequest?: boolean;
}

/** `registerUser()` details. */
export interface RegisterUserDetails {
  email: string;
  password: string;
}

/** Life-cycle state of a user. */
export type UserState = "active" | "logged-out" | "removed";

/** Profile data of a user (realm-web's key names). */
export interface UserProfile {
  name?: string;
  email?: string;
  pictureUrl?: string;
  firstName?: string;
  lastName?: string;
  gender?: string;
  birthday?: string;
  minAge?: string;
  maxAge?: string;
  [key: string]: unknown;
}

/** A MongoDB document; BSON values are npm `bson` classes (ObjectId, Decimal128, …) or Dates. */
export type Document = Record<string, any>;
/** A query filter, e.g. `{ userID: user.id }`. */
export type Filter = Record<string, any>;
/** An update document, e.g. `{ $set: { favoriteColor: "pink" } }`. */
export type Update = Record<string, any>;

/** Options of `find()`. */
export interface FindOptions {
  projection?: Document;
  sort?: Document;
  limit?: number;
}
/** Options of `findOne()`. */
export interface FindOneOptions {
  projection?: Document;
  sort?: Document;
}
/** Options of `count()`. */
export interface CountOptions {
  limit?: number;
}
/** Options of `updateOne()` / `updateMany()`. */
export interface UpdateOptions {
  upsert?: boolean;
  arrayFilters?: Filter[];
}

/** Result of `insertOne()`. */
export interface InsertOneResult<IdType = any> {
  readonly insertedId: IdType;
}
/** Result of `insertMany()`. */
export interface InsertManyResult<IdType = any> {
  readonly insertedIds: IdType[];
}
/** Result of `deleteOne()` / `deleteMany()`. */
export interface DeleteResult {
  readonly deletedCount: number;
}
/** Result of `updateOne()` / `updateMany()`. */
export interface UpdateResult<IdType = any> {
  readonly matchedCount: number;
  readonly modifiedCount: number;
  readonly upsertedId?: IdType;
}
"#;
