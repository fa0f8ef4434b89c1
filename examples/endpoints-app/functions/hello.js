// GET /hello?name=Ada → {"greeting": "Hello, Ada!"}
exports = function (request, response) {
  return { greeting: `Hello, ${request.query.name || "world"}!` };
};
