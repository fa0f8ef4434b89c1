// POST /sendMessage (validated by secret or signature): stores the message, answers 201.
exports = async function (request, response) {
  const { message } = JSON.parse(request.body.text());
  const messages = context.services.get("mongodb-atlas").db("todo").collection("messages");
  await messages.insertOne({ message, received: new Date() });
  response.setStatusCode(201);
  response.setHeader("Content-Type", "text/plain");
  response.setBody(`stored: ${message}`);
};
