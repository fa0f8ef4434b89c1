// Records when it started (ms since the epoch) for the event's document.
exports = async function (event) {
  const start = Date.now();
  await context.services.get("mongodb-atlas").db("bench").collection("latency_seen").insertOne({ _id: event.documentKey._id, start });
};
