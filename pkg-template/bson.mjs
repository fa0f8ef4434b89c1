// The `BSON` export of the browser entry: the npm `bson` module (6.x), plus realm-web's
// `ObjectID` (bson 4 had that alias; bson 5 dropped it). Re-exported binding by binding, so that
// bundlers still leave out what an app does not use.
export * from "bson";
export { ObjectId as ObjectID } from "bson";
