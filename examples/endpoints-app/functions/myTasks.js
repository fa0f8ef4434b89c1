// Application authentication: runs as the caller, so the rules of todo.tasks apply.
exports = async function (request, response) {
  const tasks = context.services.get("mongodb-atlas").db("todo").collection("tasks");
  return { user: context.user.data.email, open: await tasks.count({ status: "open" }) };
};
