//! TypeScript declarations that wasm-bindgen cannot generate from the Rust signatures: option
//! and result shapes, change events, and the generic `MongoDBDatabase.collection<T>()`,
//! `MongoDBCollection<T>` and `ChangeStream<T>` classes (their generated declarations are
//! skipped). This file is the source of truth of the package's typings beside the attributes.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_APP: &'static str = r#"
/** A key/value store for sessions: `localStorage`-like or `{ get, set, remove }`. */
export interface SessionStorage {
  get(key: string): string | null | undefined;
  set(key: string, value: string): void;
  remove(key: string): void;
}

/** Configuration of `new App(config)`. */
export interface AppConfiguration {
  /** The App Services app id. */
  id: string;
  /** Server base URL (default "https://services.cloud.mongodb.com"). */
  baseUrl?: string;
  /** Per-request timeout in milliseconds (every request, including the location lookup). */
  timeout?: number;
  /** A fetch-compatible function used instead of `globalThis.fetch`; called as `fetch(url, { method, headers, body, signal })`, like realm-web calls it. */
  fetch?: (input: any, init?: any) => Promise<any>;
  /** Use `baseUrl` as is, without asking the server for its location. */
  skipLocationRequest?: boolean;
  /** Where sessions persist: a directory path (Node) or an object with get/set/remove. Default: `localStorage` in browsers, process memory in Node. */
  storage?: string | SessionStorage | Storage;
  /** The local application's name and version, sent with each login. */
  app?: { name?: string; version?: string };
}


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

/** One identity linked to a user. */
export interface UserIdentity {
  id: string;
  providerType: string;
}

/** An API key as the server describes it (`key`, the secret, only on creation). */
export interface ApiKey {
  _id: string;
  name: string;
  disabled: boolean;
  key?: string;
}

/** `user.functions`: every property is a function of the app, called with its arguments. */
export type UserFunctions = {
  callFunction(name: string, ...args: unknown[]): Promise<any>;
  /** Calls `name` in streaming mode: the response body's chunks (App Services streams only service functions). */
  callFunctionStreaming(name: string, ...args: unknown[]): Promise<AsyncIterable<Uint8Array>>;
} & { [name: string]: (...args: any[]) => Promise<any> };

export interface User {
  /** Calls the function `name` with `args`. */
  callFunction(name: string, ...args: unknown[]): Promise<any>;
}

export interface EmailPasswordAuth {
  /** Runs the custom password reset function with the new password and extra arguments. */
  callResetPasswordFunction(details: { email: string; password: string }, ...args: unknown[]): Promise<void>;
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_JS_API: &'static str = r#"
/** The default base URL of Atlas App Services. */
export declare const DEFAULT_BASE_URL: "https://services.cloud.mongodb.com";

/** Life-cycle states of a user (realm-web's enum: `user.state === UserState.Active`). */
export declare const UserState: { readonly Active: "active"; readonly LoggedOut: "logged-out"; readonly Removed: "removed" };
/** Life-cycle state of a user. */
export type UserState = (typeof UserState)[keyof typeof UserState];
/** Who created a user (realm-web's enum). */
export declare const UserType: { readonly Normal: "normal"; readonly Server: "server" };
/** Who created a user. */
export type UserType = (typeof UserType)[keyof typeof UserType];

/** A session store as the environment has it (realm-web's `Storage`). */
export interface RealmStorage {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
  /** A view of this store whose keys all start with `<keyPart>:`. */
  prefix(keyPart: string): RealmStorage;
  /** Removes every entry, or those whose key starts with `prefix`. */
  clear(prefix?: string): void;
  addListener(listener: () => void): void;
  removeListener(listener: () => void): void;
}

/** The browser's `localStorage` as a `RealmStorage`. */
export declare class LocalStorage implements RealmStorage {
  /** Throws where there is no global `localStorage`. */
  constructor();
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
  prefix(keyPart: string): RealmStorage;
  clear(prefix?: string): void;
  addListener(listener: () => void): void;
  removeListener(listener: () => void): void;
}

/** What the SDK takes from its surroundings (realm-web's `Environment`). */
export interface Environment {
  /** Where Apps created without a `storage` option keep sessions. */
  defaultStorage: RealmStorage;
  /** Opens a browser window (OAuth 2.0 redirect logins). */
  openWindow: (url: string) => { close(): void; closed: boolean } | null;
  /** Sent on login, e.g. "node". */
  platform: string;
  /** Sent on login, e.g. "20.20.2". */
  platformVersion: string;
  TextDecoder: new (...args: any[]) => { decode(input?: any, options?: { stream?: boolean }): string };
}

/** The environment in use (made on first use: memory storage in Node, `localStorage` in browsers). */
export function getEnvironment(): Environment;
/** Replaces the environment; Apps created afterwards use its storage and platform. */
export function setEnvironment(environment: Environment): void;
/** The shared App of `id` (the same object on every call), as `App.getApp(id)`. */
export function getApp(id: string): App;
/** On an OAuth 2.0 redirect page: stores the login result for the opener. Throws in Node. */
export function handleAuthRedirect(location?: { hash: string }, storage?: RealmStorage): void;

/** `app.deviceInformation`: what a login sends about the device, SDK and app. */
export interface DeviceInformation {
  readonly sdkVersion: string;
  readonly platform: string;
  readonly platformVersion: string;
  readonly appId?: string;
  readonly appVersion?: string;
  readonly deviceId?: import("bson").ObjectId;
  /** The fields that have a value. */
  toJSON(): Record<string, unknown>;
  /** Base64 of the JSON text. */
  encode(): string;
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_MONGO: &'static str = r#"
/** A MongoDB document; BSON values are npm `bson` classes (ObjectId, Decimal128, …) or Dates. */
export type Document = Record<string, any>;
/** A query filter, e.g. `{ userID: user.id }`. */
export type Filter = Record<string, any>;
/** An update document, e.g. `{ $set: { favoriteColor: "pink" } }`. */
export type Update = Record<string, any>;
/** One aggregation stage, e.g. `{ $match: { a: 1 } }`. */
export type AggregatePipelineStage = Record<string, any>;
/** The `_id` type of a document type (`any` when it has none). */
export type IdOf<T> = T extends { _id: infer I } ? I : any;
/** A document to insert: the `_id` may be left out. */
export type NewDocument<T> = Omit<T, "_id"> & { _id?: IdOf<T> };

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
/** Options of `findOneAndUpdate()` / `findOneAndReplace()`. */
export interface FindOneAndModifyOptions {
  projection?: Document;
  sort?: Document;
  upsert?: boolean;
  returnNewDocument?: boolean;
}
/** Options of `findOneAndDelete()`. */
export interface FindOneAndDeleteOptions {
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
/** Options of `watch()`. */
export interface WatchOptions<T = any> {
  /** Only changes of documents with these ids. */
  ids?: IdOf<T>[];
  /** A match document on change events, e.g. `{ operationType: "insert" }`. */
  filter?: Filter;
  /** Reconnect after a dropped stream, or one the server ended for an expired token or an ended session, and continue after the last event (default true). */
  resume?: boolean;
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

/** Fields of every change event. */
export interface BaseChangeEvent<OperationType extends string> {
  /** The resume token. */
  _id: unknown;
  operationType: OperationType;
  clusterTime?: unknown;
  txnNumber?: number;
  lsid?: Document;
}
/** The namespace of a change. */
export interface ChangeEventNamespace {
  db: string;
  coll: string;
}
/** The changed document's key. */
export interface DocumentKey<IdType> {
  _id: IdType;
  [shardKey: string]: any;
}
/** What an update changed. */
export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
}
export interface InsertEvent<T extends Document> extends BaseChangeEvent<"insert"> {
  ns: ChangeEventNamespace;
  documentKey: DocumentKey<IdOf<T>>;
  fullDocument: T;
}
export interface UpdateEvent<T extends Document> extends BaseChangeEvent<"update"> {
  ns: ChangeEventNamespace;
  documentKey: DocumentKey<IdOf<T>>;
  updateDescription: UpdateDescription;
  fullDocument?: T;
}
export interface ReplaceEvent<T extends Document> extends BaseChangeEvent<"replace"> {
  ns: ChangeEventNamespace;
  documentKey: DocumentKey<IdOf<T>>;
  fullDocument: T;
}
export interface DeleteEvent<T extends Document> extends BaseChangeEvent<"delete"> {
  ns: ChangeEventNamespace;
  documentKey: DocumentKey<IdOf<T>>;
}
export interface DropEvent extends BaseChangeEvent<"drop"> {
  ns: ChangeEventNamespace;
}
export interface RenameEvent extends BaseChangeEvent<"rename"> {
  ns: ChangeEventNamespace;
  to: ChangeEventNamespace;
}
export interface DropDatabaseEvent extends BaseChangeEvent<"dropDatabase"> {
  ns: Omit<ChangeEventNamespace, "coll">;
}
export type InvalidateEvent = BaseChangeEvent<"invalidate">;
/** A change of a collection of `T` documents. */
export type ChangeEvent<T extends Document = any> =
  | InsertEvent<T>
  | UpdateEvent<T>
  | ReplaceEvent<T>
  | DeleteEvent<T>
  | DropEvent
  | RenameEvent
  | DropDatabaseEvent
  | InvalidateEvent;

/** `service.db(name)`. */
export class MongoDBDatabase {
  private constructor();
  free(): void;
  [Symbol.dispose](): void;
  /** The database name. */
  readonly name: string;
  /** A collection of this database; `T` types its documents. */
  collection<T extends Document = any>(collectionName: string): MongoDBCollection<T>;
}

/** `db.collection<T>(name)`: MongoDB operations through the App Services function API. */
export class MongoDBCollection<T extends Document = any> {
  private constructor();
  free(): void;
  [Symbol.dispose](): void;
  /** The collection name. */
  readonly name: string;
  /** The database name. */
  readonly databaseName: string;
  find(filter?: Filter, options?: FindOptions): Promise<T[]>;
  findOne(filter?: Filter, options?: FindOneOptions): Promise<T | null>;
  findOneAndUpdate(filter: Filter, update: Update, options?: FindOneAndModifyOptions): Promise<T | null>;
  findOneAndReplace(filter: Filter, replacement: NewDocument<T>, options?: FindOneAndModifyOptions): Promise<T | null>;
  findOneAndDelete(filter?: Filter, options?: FindOneAndDeleteOptions): Promise<T | null>;
  aggregate(pipeline: AggregatePipelineStage[]): Promise<any[]>;
  count(filter?: Filter, options?: CountOptions): Promise<number>;
  insertOne(document: NewDocument<T>): Promise<InsertOneResult<IdOf<T>>>;
  insertMany(documents: NewDocument<T>[]): Promise<InsertManyResult<IdOf<T>>>;
  updateOne(filter: Filter, update: Update, options?: UpdateOptions): Promise<UpdateResult<IdOf<T>>>;
  updateMany(filter: Filter, update: Update, options?: UpdateOptions): Promise<UpdateResult<IdOf<T>>>;
  deleteOne(filter?: Filter): Promise<DeleteResult>;
  deleteMany(filter?: Filter): Promise<DeleteResult>;
  /** A change stream; iterate with `for await`, leave with `break` (or call `return()`). */
  watch(options?: WatchOptions<T>): ChangeStream<T>;
}

/** What `watch()` returns: an async iterator of change events. */
export class ChangeStream<T extends Document = any> implements AsyncIterableIterator<ChangeEvent<T>> {
  private constructor();
  free(): void;
  [Symbol.dispose](): void;
  next(): Promise<IteratorResult<ChangeEvent<T>, undefined>>;
  return(value?: any): Promise<IteratorResult<ChangeEvent<T>, any>>;
  [Symbol.asyncIterator](): ChangeStream<T>;
  /** Closes the stream. */
  close(): void;
  /** The resume token (`_id`) of the last delivered event. */
  readonly resumeToken: unknown;
}
"#;
