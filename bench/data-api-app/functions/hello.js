exports = (request) => ({ greeting: `Hello, ${request.query.name}!` });
