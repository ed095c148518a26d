"""Where a solution file can be mutated: every (node, operator, edit) inside its solution regions.

The operators are the small bugs this analysis is about: arithmetic and comparison swaps,
constants off by one, calls left out or renamed (sqrt, exp, mean/sum), dim=, index
offsets, swapped arguments, keys and statements, deleted statements, and random draws
moved (the order of draws is graded through fixed seeds).
"""
import ast
from dataclasses import dataclass
from typing import Dict, List, Tuple

from autograder.tools.mutation import edits
from autograder.tools.mutation.edits import Edit
from autograder.tools.mutation.equivalent import independent
from autograder.tools.mutation.syntax import (call_name, draws_random, is_module_function, number_alternatives,
                                              number_value)

ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
         ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv}
COMPARE = {ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE),
           ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
           ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
# Element-wise functions and other calls a student could leave out: f(x) -> x, x.f() -> x.
REMOVABLE = {"sqrt", "rsqrt", "exp", "log", "log1p", "sin", "cos", "abs", "tanh", "sigmoid", "clamp", "clip",
             "square", "float", "double", "reversed", "detach"}
RENAMES = {"sin": ("cos",), "cos": ("sin",), "exp": ("log",), "log": ("exp",), "log1p": ("log",),
           "mean": ("sum",), "sum": ("mean",), "cumprod": ("cumsum",), "l1_loss": ("mse_loss",),
           "mse_loss": ("l1_loss",), "smooth_l1_loss": ("l1_loss",)}
KEYWORD_RENAMES = {"min": "max", "max": "min"}
STATEMENT_OPERATORS = ("swap statements", "delete statement", "order of draws")


@dataclass
class Site:
    node_index: int               # the node's position in ast.walk order (the same in every fresh parse)
    operator: str
    edit: Edit
    independent_swap: bool = False   # a swap or move of statements that cannot affect each other


class Sites:
    """Every site of one module's solution regions (`collect()` fills `sites`)."""

    def __init__(self, tree: ast.Module, regions: List[Tuple[int, int]]):
        self.tree, self.regions = tree, regions
        self.nodes = list(ast.walk(tree))
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        self.owner: Dict[int, ast.AST] = {}
        for top in tree.body:
            if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for node in ast.walk(top):
                    self.owner[id(node)] = top
        self.parents = {child: parent for parent in self.nodes for child in ast.iter_child_nodes(parent)}
        self.skip = set()
        for node in self.nodes:      # messages and docstrings are not graded code
            if isinstance(node, (ast.JoinedStr, ast.Raise)) or (
                    isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
                self.skip.update(id(sub) for sub in ast.walk(node))
        self.keys: Dict[int, List[str]] = {}     # owner -> string subscript keys, in order of appearance
        for node in self.nodes:
            if isinstance(node, ast.Subscript) and self.inside(node) and isinstance(node.slice, ast.Constant) \
                    and isinstance(node.slice.value, str):
                keys = self.keys.setdefault(id(self.owner[id(node)]), [])
                if node.slice.value not in keys:
                    keys.append(node.slice.value)
        self.sites: List[Site] = []
        # Functions of the same module: swapping their arguments only makes a TypeError (not a realistic bug).
        self.local = {top.name for top in tree.body if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.drawing = {top.name for top in tree.body
                        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) and draws_random(top)}

    def inside(self, node) -> bool:
        if id(node) not in self.owner or id(node) in self.skip or not hasattr(node, "lineno"):
            return False
        return any(first <= node.lineno and node.end_lineno <= last for first, last in self.regions)

    def add(self, node, operator: str, edit: Edit, independent_swap: bool = False) -> None:
        self.sites.append(Site(self.index[id(node)], operator, edit, independent_swap))

    def collect(self) -> None:
        for node in self.nodes:
            for name in ("body", "orelse"):
                block = getattr(node, name, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    self.block(node, name, block)
            if not self.inside(node):
                continue
            if isinstance(node, ast.BinOp):
                self.binop(node)
            elif isinstance(node, ast.AugAssign) and type(node.op) in ARITH:
                self.add(node, "arithmetic", edits.set_op(ARITH[type(node.op)]))
            elif isinstance(node, ast.Compare):
                for index, op in enumerate(node.ops):
                    for new in COMPARE.get(type(op), ()):
                        self.add(node, "comparison", edits.set_compare(index, new))
            elif isinstance(node, ast.BoolOp):
                self.add(node, "boolean", edits.set_op(ast.Or if isinstance(node.op, ast.And) else ast.And))
            elif isinstance(node, ast.UnaryOp):
                self.unary(node)
            elif isinstance(node, ast.Constant):
                self.constant(node)
            elif isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                self.subscript(node)
            elif isinstance(node, ast.Tuple) and len(node.elts) > 1:
                parent = self.parents.get(node)
                if not (isinstance(parent, ast.Subscript) and parent.slice is node):
                    for index in range(len(node.elts) - 1):
                        if ast.dump(node.elts[index]) != ast.dump(node.elts[index + 1]):
                            self.add(node, "swap elements", edits.swap_items("elts", index))
            elif isinstance(node, ast.IfExp):
                self.add(node, "condition", edits.negate_test)
                self.add(node, "condition", edits.take_branch("body"))
                self.add(node, "condition", edits.take_branch("orelse"))
            elif isinstance(node, (ast.If, ast.While)):
                self.add(node, "condition", edits.negate_test)
            if isinstance(node, (ast.Return, ast.Assign)) and node.value is not None and self.negatable(node.value):
                self.add(node, "unary minus", edits.negate_value)

    # -- expressions ------------------------------------------------------------
    def binop(self, node: ast.BinOp) -> None:
        if type(node.op) not in ARITH:
            return
        if any(isinstance(side, (ast.JoinedStr, ast.Constant)) and isinstance(getattr(side, "value", None), str)
               for side in (node.left, node.right)):
            return       # string formatting
        self.add(node, "arithmetic", edits.set_op(ARITH[type(node.op)]))

    def unary(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.USub) and number_value(node) is not None:
            self.number(node)
        elif isinstance(node.op, (ast.USub, ast.Not)):
            self.add(node, "unary minus" if isinstance(node.op, ast.USub) else "condition", edits.drop_unary)

    def constant(self, node: ast.Constant) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            return                 # -c is mutated as one number
        if isinstance(parent, ast.keyword) and parent.arg == "dim":
            return                 # the dim operator does it
        if number_value(node) is not None:
            self.number(node)

    def number(self, node) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, ast.keyword) and parent.arg == "dim":
            return
        for value in number_alternatives(number_value(node)):
            self.add(node, "constant", edits.set_number(value))

    def negatable(self, value) -> bool:
        if isinstance(value, ast.BinOp):
            return True
        return isinstance(value, ast.Call) and call_name(value) in (REMOVABLE | set(RENAMES)) - {"reversed"}

    def call(self, node: ast.Call) -> None:
        name = call_name(node)
        module_function = is_module_function(node)
        if name in REMOVABLE and (not module_function or node.args):
            self.add(node, "remove .detach()" if name == "detach" else "remove call", edits.drop_call(module_function))
        for new in RENAMES.get(name, ()):
            if isinstance(node.func, ast.Attribute):
                self.add(node, "mean/sum" if name in ("mean", "sum") else "swap function", edits.rename(new))
        positional = list(node.args)
        if len(positional) > 1 and not any(isinstance(arg, ast.Starred) for arg in positional) \
                and not (isinstance(node.func, ast.Name) and node.func.id in self.local):
            for index in range(len(positional) - 1):
                if ast.dump(positional[index]) != ast.dump(positional[index + 1]):
                    self.add(node, "swap arguments", edits.swap_items("args", index))
        keywords = [kw for kw in node.keywords if kw.arg is not None]
        for index, kw in enumerate(node.keywords):
            if kw.arg is None:
                continue
            self.add(node, "drop keyword", edits.drop_keyword(index))
            if kw.arg == "dim" and number_value(kw.value) is not None:
                for value in (0, 1, -1):
                    if value != number_value(kw.value):
                        self.add(node, "dim", edits.set_keyword_number(index, value))
            if kw.arg in KEYWORD_RENAMES:
                self.add(node, "swap keyword", edits.rename_keyword(index, KEYWORD_RENAMES[kw.arg]))
        for first, second in zip(keywords, keywords[1:]):
            if ast.dump(first.value) != ast.dump(second.value):
                self.add(node, "swap keyword values", edits.swap_keyword_values(first.arg, second.arg))

    def subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, str):
            keys = self.keys.get(id(self.owner[id(node)]), [])
            if len(keys) > 1:
                self.add(node, "swap key", edits.set_key(keys[(keys.index(index.value) + 1) % len(keys)]))
        elif isinstance(index, ast.Slice):
            lower, upper = number_value(index.lower) if index.lower else None, \
                number_value(index.upper) if index.upper else None
            if index.lower is None and upper == -1 and index.step is None:
                self.add(node, "index offset", edits.set_slice(1, None))
            elif lower == 1 and index.upper is None and index.step is None:
                self.add(node, "index offset", edits.set_slice(None, -1))
        elif isinstance(index, (ast.Name, ast.Attribute, ast.Call, ast.BinOp)):
            self.add(node, "index offset", edits.offset_index(ast.Sub))
            self.add(node, "index offset", edits.offset_index(ast.Add))

    # -- statements -------------------------------------------------------------
    def block(self, holder, name: str, block: List[ast.stmt]) -> None:
        inside = [self.inside(stmt) and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
                  for stmt in block]
        owner = self.owner.get(id(block[0]))
        # Calls that may have side effects: the function's parameters (a model, a loss) and drawing functions.
        effectful = {arg.arg for arg in ast.walk(owner) if isinstance(arg, ast.arg)} if owner is not None else set()
        effectful |= self.drawing

        def independent_of_all(stmt, others) -> bool:
            return all(independent(stmt, other, effectful) for other in others)

        for index, stmt in enumerate(block):
            if not inside[index]:
                continue
            if index + 1 < len(block) and inside[index + 1] and ast.dump(stmt) != ast.dump(block[index + 1]):
                self.add(holder, "swap statements", edits.swap_statements(name, index),
                         independent(stmt, block[index + 1], effectful))
            if self.deletable(stmt, owner):
                self.add(holder, "delete statement", edits.delete_statement(name, index))
            if draws_random(stmt) and not isinstance(stmt, (ast.Return, ast.If, ast.For, ast.While)):
                first = next(i for i, flag in enumerate(inside) if flag)
                last = max(i for i, flag in enumerate(inside) if flag)
                if isinstance(block[last], ast.Return):
                    last -= 1
                if index - first > 1:
                    self.add(holder, "order of draws", edits.move_statement(name, index, first, "start"),
                             independent_of_all(stmt, block[first:index]))
                if last - index > 1:
                    self.add(holder, "order of draws", edits.move_statement(name, index, last, "end"),
                             independent_of_all(stmt, block[index + 1:last + 1]))

    def deletable(self, stmt: ast.stmt, owner) -> bool:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            return True
        if isinstance(stmt, (ast.AugAssign, ast.If)):
            return True
        if isinstance(stmt, ast.Assign) and owner is not None:
            names = {target.id for target in stmt.targets if isinstance(target, ast.Name)}
            earlier = {node.id for node in ast.walk(owner) if isinstance(node, ast.Name)
                       and isinstance(node.ctx, ast.Store) and node.lineno < stmt.lineno}
            earlier |= {arg.arg for arg in ast.walk(owner) if isinstance(arg, ast.arg)}
            return bool(names & earlier)     # a re-assignment: x = x * scale
        return False


