"""The edits a mutant is made of: each changes one node of a fresh copy of the tree in place and
returns the mutant's description, the text the report prints and EQUIVALENT entries quote."""
import ast
from typing import Callable

from autograder.tools.mutation.syntax import code, number_node, replace_in_parent, short

Edit = Callable[[ast.AST, dict], str]     # (the copied node, {node: parent}) -> description

SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//", ast.Mod: "%",
          ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is",
          ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.And: "and", ast.Or: "or"}


# -- expressions ----------------------------------------------------------------------------
def set_op(new_op) -> Edit:
    def edit(node, parents):
        before = code(node)
        old = SYMBOL[type(node.op)]
        node.op = new_op()
        return f"{before}: `{old}` -> `{SYMBOL[new_op]}`"
    return edit


def set_compare(index, new_op) -> Edit:
    def edit(node, parents):
        before = code(node)
        old = SYMBOL[type(node.ops[index])]
        node.ops[index] = new_op()
        return f"{before}: `{old}` -> `{SYMBOL[new_op]}`"
    return edit


def drop_unary(node, parents):
    replace_in_parent(parents, node, node.operand)
    return f"{code(node)} -> {code(node.operand)}"


def negate_value(node, parents):
    before = code(node.value)
    node.value = ast.UnaryOp(ast.USub(), node.value)
    return f"negate {before}"


def set_number(value) -> Edit:
    def edit(node, parents):
        new, context = number_node(value), code(parents[node])
        replace_in_parent(parents, node, new)
        return f"{code(node)} -> {code(new)} in {context}"
    return edit


def drop_call(module_function: bool) -> Edit:
    """f(x) -> x for a library function, x.f() -> x for a method."""
    def edit(node, parents):
        new = node.args[0] if module_function else node.func.value
        replace_in_parent(parents, node, new)
        return f"{code(node)} -> {code(new)}"
    return edit


def rename(new: str) -> Edit:
    def edit(node, parents):
        before = code(node)
        node.func.attr = new
        return f"{before} -> {code(node)}"
    return edit


def swap_items(name: str, index: int) -> Edit:
    """Swap items `index` and `index + 1` of a call's arguments or a tuple's elements."""
    def edit(node, parents):
        items = getattr(node, name)
        first, second = items[index], items[index + 1]
        where = f"{code(node.func)[:-1]}(...)`" if isinstance(node, ast.Call) else code(node)
        items[index], items[index + 1] = second, first
        what = "arguments" if isinstance(node, ast.Call) else "elements"
        return f"in {where}, swap {what} {index + 1} and {index + 2}: {code(first)} and {code(second)}"
    return edit


def drop_keyword(index: int) -> Edit:
    def edit(node, parents):
        keyword = node.keywords.pop(index)
        return f"`{keyword.arg}={short(ast.unparse(keyword.value), 40)}` removed from {code(node)}"
    return edit


def set_keyword_number(index: int, value) -> Edit:
    def edit(node, parents):
        before = code(node)
        node.keywords[index].value = number_node(value)
        return f"{before} -> {code(node)}"
    return edit


def rename_keyword(index: int, new: str) -> Edit:
    def edit(node, parents):
        before = code(node)
        node.keywords[index].arg = new
        return f"{before} -> {code(node)}"
    return edit


def swap_keyword_values(first: str, second: str) -> Edit:
    def edit(node, parents):
        before = code(node)
        keywords = {keyword.arg: keyword for keyword in node.keywords}
        keywords[first].value, keywords[second].value = keywords[second].value, keywords[first].value
        return f"{before} -> {code(node)}"
    return edit


def set_key(key: str) -> Edit:
    def edit(node, parents):
        before = code(node)
        node.slice = ast.Constant(key)
        return f"{before} -> {code(node)}"
    return edit


def set_slice(lower, upper) -> Edit:
    def edit(node, parents):
        before = code(node)
        node.slice = ast.Slice(number_node(lower) if lower is not None else None,
                               number_node(upper) if upper is not None else None, None)
        return f"{before} -> {code(node)}"
    return edit


def offset_index(op) -> Edit:
    def edit(node, parents):
        before = code(node)
        node.slice = ast.BinOp(node.slice, op(), ast.Constant(1))
        return f"{before} -> {code(node)}"
    return edit


def negate_test(node, parents):
    before = code(node.test)
    node.test = ast.UnaryOp(ast.Not(), node.test)
    return f"condition {before} negated"


def take_branch(branch: str) -> Edit:
    def edit(node, parents):
        new = getattr(node, branch)
        replace_in_parent(parents, node, new)
        return f"{code(node)} -> {code(new)}"
    return edit


# -- statements (the node is the block's holder: a def, an if, a loop) ---------------------
def swap_statements(block_name: str, index: int) -> Edit:
    def edit(node, parents):
        block = getattr(node, block_name)
        first, second = block[index], block[index + 1]
        block[index], block[index + 1] = second, first
        return f"swap {code(first)} and {code(second)}"
    return edit


def delete_statement(block_name: str, index: int) -> Edit:
    def edit(node, parents):
        block = getattr(node, block_name)
        removed = block[index]
        block[index] = ast.Pass()
        return f"delete {code(removed)}"
    return edit


def move_statement(block_name: str, index: int, to: int, where: str) -> Edit:
    def edit(node, parents):
        block = getattr(node, block_name)
        stmt = block.pop(index)
        block.insert(to, stmt)
        return f"move {code(stmt)} to the {where} of its block"
    return edit
