// Typings of the `BSON` export: the npm `bson` module (6.x) plus realm-web's `ObjectID` alias.
export * from "bson";
export { ObjectId as ObjectID } from "bson";
