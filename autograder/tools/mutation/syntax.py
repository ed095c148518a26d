"""Small `ast` helpers shared by the mutant generator and the equivalence check."""
import ast
from typing import List, Optional

# Names whose attributes are library functions, not methods of a tensor or a model.
MODULES = {"torch", "math", "F", "nn", "np", "numpy", "functional"}
# Calls that draw random numbers: moving them changes which numbers each draw gets.
DRAWS = {"randn", "rand", "randn_like", "rand_like", "randint", "randint_like", "normal", "multinomial",
         "bernoulli", "randperm", "poisson", "uniform_", "normal_"}


def short(text: str, limit: int = 72) -> str:
    """One line of code for a description: the first line, at most `limit` characters."""
    lines = text.strip().splitlines() or [""]
    text = " ".join(lines[0].split()) + (" ..." if len(lines) > 1 else "")
    return text if len(text) <= limit else text[: limit // 2 - 2] + " ... " + text[-(limit // 2 - 3):]


def code(node) -> str:
    return "`" + short(ast.unparse(node)) + "`"


def call_name(call: ast.Call) -> Optional[str]:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def base_name(node) -> Optional[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def is_module_function(call: ast.Call) -> bool:
    """torch.sqrt(x), math.log(c), F.pad(...), reversed(x): not a method of the first argument."""
    if isinstance(call.func, ast.Name):
        return True
    return isinstance(call.func, ast.Attribute) and base_name(call.func) in MODULES


def number_value(node) -> Optional[float]:
    """The value of a numeric literal, -literal included (not bool)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = number_value(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def number_node(value) -> ast.expr:
    return ast.UnaryOp(ast.USub(), ast.Constant(-value)) if value < 0 else ast.Constant(value)


def number_alternatives(value) -> List:
    """The constants a literal is replaced with: off by one, sign flips, 0 <-> 1."""
    if isinstance(value, float):
        table = {0.0: [1.0], 1.0: [0.0, 2.0], 0.5: [1.0, -0.5], 2.0: [1.0, 3.0]}
        options = table.get(value, [value + 1.0, -value])
    else:
        table = {0: [1], 1: [0, 2], 2: [1, 3], -1: [0, 1, -2]}
        options = table.get(value, [value + 1, -value])
    return [option for option in options if option != value]


def draws_random(node) -> bool:
    return any(isinstance(sub, ast.Call) and call_name(sub) in DRAWS for sub in ast.walk(node))


def replace_in_parent(parents: dict, old: ast.AST, new: ast.AST) -> None:
    parent = parents[old]
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is old:
                    value[index] = new
                    return
    raise ValueError("node not found in its parent")
