// A trivial trigger function: looks at the event and returns.
exports = function (event) {
  return event.documentKey._id;
};
